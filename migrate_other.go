//go:build !linux

package mill

import "go.uber.org/zap"

// warnMigrateReq does nothing: only Linux has tcp_migrate_req.
func warnMigrateReq(*zap.Logger) {}
