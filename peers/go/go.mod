module taskmem.peers/goroutines

go 1.19
