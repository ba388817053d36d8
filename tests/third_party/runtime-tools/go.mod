module github.com/opencontainers/runtime-tools

go 1.19

require (
	github.com/hashicorp/go-multierror v1.1.1
	github.com/mndrix/tap-go v0.0.0-20171203230836-629fa407e90b
	github.com/moby/sys/mountinfo v0.7.2
	github.com/opencontainers/runtime-spec v1.1.0
	github.com/opencontainers/selinux v1.9.1
	github.com/sirupsen/logrus v1.8.1
	github.com/syndtr/gocapability v0.0.0-20200815063812-42c35b437635
	github.com/urfave/cli v1.19.1
	golang.org/x/sys v0.1.0
)

require github.com/hashicorp/errwrap v1.0.0 // indirect
