from tracklet.cli import main

main()
