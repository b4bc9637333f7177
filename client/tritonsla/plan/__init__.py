"""`tritonsla plan`: replicas per SLA class from a traffic forecast and measured capacities,
checked by a discrete-event simulation (simpy) calibrated on measurements of the same engines.

forecast.py reads the forecast; measurements.py reads bench and capacity JSON; engine_model.py
fits each class's engine from closed-loop runs; simulate.py runs replicas of those engines under
Poisson arrivals; sizing.py turns capacities into replicas, GPUs and HPA bounds (pure).
"""
