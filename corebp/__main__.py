from corebp.cli.main import main

main()
