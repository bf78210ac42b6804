// Package kubernetes is a computemw provider on Kubernetes, built on SIG
// Apps' agent-sandbox (sigs.k8s.io/agent-sandbox): a sandbox is a
// SandboxClaim on a configured SandboxWarmPool, or, with no pool
// configured, a Sandbox made from a pod template. The provider creates the
// object, watches it until the agent-sandbox controller reports it Ready,
// and deletes it on Destroy.
//
// Executions, terminals and files go to sandboxd, the in-pod daemon of
// agent-sandbox: files over its REST API (/v1/files) through the sandbox
// router (X-Sandbox-ID, X-Sandbox-Namespace and X-Sandbox-Port headers),
// processes over its gRPC ProcessService (streamed output, stdin, a
// pseudo-terminal, signals) dialled at the pod's IP, since the router
// forwards HTTP/1.1 only. With Options.PodExec, images without sandboxd
// are served through the API server's pods/exec (client-go's
// remotecommand) instead: processes, terminals and files alike.
//
// Sandboxes carry the label LabelManaged and the label LabelInstance of
// the kit that made them: [Provider.Reap] deletes those a crashed kit left
// behind. [Provider.Attach] opens any sandbox by ID, so N stateless kit
// replicas sharing a session store serve every session.
//
// The service account the kit runs as needs a namespaced Role only; see
// examples/kubernetes and docs/kubernetes.md.
package kubernetes
