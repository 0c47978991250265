from talkavatar.cli import main

main()
