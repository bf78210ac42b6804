package kubernetes_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/computemw/kit/providers/kubernetes/k8sfake"
)

// The starter the Deployment runs (examples/kubernetes), built and run as
// a process with a kubeconfig for the API server: it starts, and the
// Deployment's readiness probe, the kit's health endpoint, answers 200.
func checkStarter(t *testing.T, cfg *rest.Config, ns string) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "starter")
	build := exec.Command("go", "build", "-o", bin, "github.com/computemw/kit/examples/kubernetes")
	build.Dir = filepath.Join(manifestsDir(), "..", "..") // the kit's own module
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, TLSServerName: cfg.ServerName, InsecureSkipTLSVerify: cfg.Insecure}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "COMPUTEMW_K8S_WARM_POOL=computemw-pool",
		"COMPUTEMW_K8S_NAMESPACE="+ns, "POD_NAME=starter-0", "REDIS_ADDR=", "PORT="+itoa(port))
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), "starter ready") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the starter exited before it was ready")
		}
	case <-time.After(time.Minute):
		t.Fatal("the starter did not start within a minute")
	}
	code, body := k8sfake.Call(t, "GET", "http://127.0.0.1:"+itoa(port)+readinessPath(t), "")
	if code != 200 || body["status"] != "healthy" {
		t.Errorf("the starter's readiness probe: %d %v", code, body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
