// Package kubernetes tests the Kubernetes provider against a real API
// server: the published apiextensions-apiserver test server with the etcd
// that k8s.io/apiserver's testing packages embed, in this process, with
// agent-sandbox's CRDs installed from its module and the loopback fake of
// the agent-sandbox controller, router and daemon. It is a module of its
// own so that the kit's go.mod does not gain the API server and etcd.
package kubernetes
