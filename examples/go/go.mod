module payfac.example/sign

go 1.19
