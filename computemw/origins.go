package computemw

// HostAllowed reports whether host (a Host header: name or name:port) is
// one the kit serves (Config.AllowedHosts; any when that is empty). A
// transport of its own (GraphQL) checks it where it answers before any
// operation is admitted; [Kit.Admit] checks it too.
func (k *Kit) HostAllowed(host string) bool { return k.hostAllowed(host) }

// OriginAllowed reports whether a browser page of origin may open a
// WebSocket here, by the rule of [Kit.AdmitWebSocket]: Config.AllowedOrigins,
// else pages of Config.AllowedHosts; "" (not a browser) is allowed. When
// [Kit.ChecksOrigins] is false it allows any origin: the transport then
// applies its WebSocket library's same-origin rule. A transport whose
// credentials arrive after the upgrade calls it before upgrading.
func (k *Kit) OriginAllowed(origin string) bool { return k.originAllowed(origin) }
