// Placeholder: the unwind-profile command line lands here.
print("unwind-profile: not built yet")
