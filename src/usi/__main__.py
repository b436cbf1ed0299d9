from usi.cli import main

main()
