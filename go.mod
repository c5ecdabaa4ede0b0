module github.com/heir-emd/heir

go 1.26.8

require (
	github.com/gopacket/gopacket v1.7.7
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.55.0
	golang.org/x/sync v0.25.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)
