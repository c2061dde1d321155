from sippy.cli import main

main()
