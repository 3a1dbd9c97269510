module taskmem.peers/conn

go 1.19
