print("lab ran")
