print("unwind-stress: not yet")
