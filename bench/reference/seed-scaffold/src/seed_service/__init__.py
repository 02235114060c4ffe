def main() -> None:
    print("Hello from seed-service!")
