"""The fixed text the default tokenizer is trained on.

Generic prose written for this project, so the default tokenizer needs no download and is the
same on every machine. The last paragraph mixes in accented letters, CJK and emoji so that the
vocabulary has tokens holding parts of multi-byte UTF-8 characters, the case streaming
detokenization must get right.
"""

from __future__ import annotations

DEFAULT_CORPUS: tuple[str, ...] = (
    "The morning train left the station a few minutes late. Most of the passengers were "
    "reading, some were asleep, and a small group near the window talked about the weather, "
    "which had been unusually warm for the season. Outside, the fields moved past in long "
    "green bands, broken now and then by a farmhouse, a river or a line of tall trees.",
    "A good kitchen is organised around the way people actually cook. The knives hang close "
    "to the cutting board, the pans sit near the stove, and the spices are kept away from the "
    "heat so that they keep their flavour. When everything has a place, dinner for six takes "
    "an hour instead of an afternoon, and the cleaning afterwards is quick.",
    "Learning to play an instrument rewards patience more than talent. Ten minutes of careful "
    "practice every day does more than two hours once a week, because the hands remember what "
    "they repeat. Beginners often play too fast; slowing down until every note is clean is "
    "the shortest way to playing quickly later.",
    "The city library opens at nine and closes at eight on weekdays. Visitors can borrow up to "
    "twelve books at a time, reserve a room for group study, or use one of the computers on the "
    "second floor. Children's stories, maps of the region and old newspapers are kept on the "
    "ground floor, next to the reading garden.",
    "Weather forecasts are built from measurements taken all over the world: temperature, "
    "pressure, wind and humidity, recorded on land, at sea and high in the atmosphere. "
    "Computers combine these numbers with the laws of physics to estimate how the air will move "
    "over the next days. The further ahead the forecast looks, the less certain it becomes.",
    "Gardening starts with the soil. Before planting anything, it helps to know whether the "
    "ground is sandy, heavy with clay or rich and dark. Vegetables want sun for most of the day "
    "and water in the early morning; flowers are more forgiving, and herbs such as thyme, "
    "rosemary and sage grow happily in poor, dry corners where little else will.",
    "Every good story needs a reason to keep reading. A question is asked early, a character "
    "wants something they cannot easily have, and each page moves them a little closer or a "
    "little further away. Readers forgive a slow beginning if they trust that the answer is "
    "worth the wait, but they rarely forgive an ending that ignores the question.",
    "Walking is the simplest exercise there is. It needs no equipment beyond comfortable shoes, "
    "it can be done in any weather with the right coat, and it clears the mind as well as it "
    "strengthens the body. Many people find that their best ideas arrive somewhere between the "
    "front door and the end of the street.",
    "Numbers appear everywhere in daily life: 7 days in a week, 12 months in a year, 24 hours "
    "in a day and 60 minutes in an hour. A recipe may ask for 250 grams of flour, 3 eggs and "
    "half a litre of milk, while a train timetable lists departures at 08:15, 09:45 and 11:30. "
    "Questions, answers, lists and quotes are marked with punctuation: ? ! ; : ( ) \" ' - .",
    "Some words travel between languages: a café in Paris, a naïve plan, a piñata at a party, "
    "the façade of an old building. Greetings differ too: hello, bonjour, hola, привет, "
    "你好, こんにちは, 안녕하세요. Messages today often end with a symbol such as 😀, 👍, 🎉 "
    "or ❤️, and prices may be written as 5 €, £10 or ¥300.",
)
