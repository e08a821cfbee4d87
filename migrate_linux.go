//go:build linux

package mill

import (
	"os"
	"strings"

	"go.uber.org/zap"
)

// migrateReqPath is Linux's switch (5.14 and later) that moves the
// connections queued on a closing SO_REUSEPORT listener to the others
// in its group instead of resetting them.
const migrateReqPath = "/proc/sys/net/ipv4/tcp_migrate_req"

// warnMigrateReq warns, for a server with per-loop SO_REUSEPORT
// listeners, when the kernel would reset the connections queued on one
// of them as it closes (another process's, in a rolling restart). The
// setting is per network namespace.
func warnMigrateReq(log *zap.Logger) {
	b, err := os.ReadFile(migrateReqPath)
	if err != nil || strings.TrimSpace(string(b)) != "0" {
		return // on, or a kernel without it (nothing to switch on)
	}
	log.Warn("SO_REUSEPORT listeners with net.ipv4.tcp_migrate_req=0: connections queued on a listener that closes "+
		"(a process that exits in a rolling restart) are reset rather than moved to the others; "+
		"set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1), or hand the listeners over (Server.ListenerFiles)",
		zap.String("sysctl", migrateReqPath))
}
