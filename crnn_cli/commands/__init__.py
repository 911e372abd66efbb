"""What each ``crnn`` subcommand does; its flags are in the ``crnn_cli/*_cmds.py`` beside this folder."""
