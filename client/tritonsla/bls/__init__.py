"""tritonsla.bls: the logic of the tensorrt_llm_bls model."""
