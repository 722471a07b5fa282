from scaler.cli.app import main

main()
