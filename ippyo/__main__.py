from ippyo.cli import main

main()
