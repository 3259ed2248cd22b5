// Command compose loads docker-compose.prod.yml with compose-go, the loader that Docker
// Compose itself uses (Compose Specification JSON schema validation, interpolation,
// normalization and consistency checks), once without profiles and once with the
// "postgres" profile, and then checks the ChittyID deployment policy (issue 5, item 3;
// SOP-DEPLOY-002 5.4.1 and 8.2).
//
// Usage: compose [-f docker-compose.prod.yml] [-env-file .env.example] [-e KEY=VALUE ...]
//
// Interpolation uses the process environment, plus VERSION=0.0.0-check when VERSION is
// unset (the file requires it). With -env-file the file is loaded a second time with that
// env file, as `docker compose --env-file` does, so its values are checked too. Exit 0 and one "OK" line when valid; exit 1 with one line
// per problem otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type envFlags []string

func (e *envFlags) String() string     { return strings.Join(*e, ",") }
func (e *envFlags) Set(v string) error { *e = append(*e, v); return nil }

type checker struct{ problems []string }

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func main() {
	path := flag.String("f", "docker-compose.prod.yml", "compose file")
	var extra, envFiles envFlags
	flag.Var(&extra, "e", "KEY=VALUE for interpolation (repeatable)")
	flag.Var(&envFiles, "env-file", "env file to load as well, in a second pass (repeatable)")
	flag.Parse()

	env := os.Environ()
	if os.Getenv("VERSION") == "" {
		env = append(env, "VERSION=0.0.0-check")
	}
	env = append(env, extra...)

	c := &checker{}
	passes := [][]string{nil}
	if len(envFiles) > 0 {
		passes = append(passes, envFiles)
	}
	for _, files := range passes {
		for _, profiles := range [][]string{nil, {"postgres"}} {
			label := profileLabel(profiles)
			if len(files) > 0 {
				label = fmt.Sprintf("[env-file %s]%s", strings.Join(files, ","), label)
			}
			project, err := load(*path, env, files, profiles)
			if err != nil {
				c.fail("%s: %v", label, err)
				continue
			}
			c.policy(project, profiles, label)
		}
	}
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Fprintf(os.Stderr, "compose: %s: %s\n", *path, p)
		}
		fmt.Fprintf(os.Stderr, "compose: %s: FAILED (%d problem(s))\n", *path, len(c.problems))
		os.Exit(1)
	}
	withEnv := ""
	if len(envFiles) > 0 {
		withEnv = "; with and without " + envFiles.String()
	}
	fmt.Printf("compose: %s: OK (compose-spec schema, interpolation, consistency; profiles: none and postgres%s; policy)\n", *path, withEnv)
}

func profileLabel(profiles []string) string {
	if len(profiles) == 0 {
		return "[no profile]"
	}
	return "[profile " + strings.Join(profiles, ",") + "]"
}

func load(path string, env, envFiles, profiles []string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// No implicit .env: only the process environment, or the env files asked for.
	dotEnv := func(*cli.ProjectOptions) error { return nil }
	if len(envFiles) > 0 {
		dotEnv = func(o *cli.ProjectOptions) error {
			if err := cli.WithEnvFiles(envFiles...)(o); err != nil {
				return err
			}
			return cli.WithDotEnv(o)
		}
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(env),
		dotEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithProfiles(profiles),
		cli.WithDiscardEnvFile,
	)
	if err != nil {
		return nil, err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, err
	}
	// As `docker compose up` does: drop depends_on entries marked required: false whose
	// service is not enabled.
	return project.WithoutUnresolvedOptionalDependencies(), nil
}

var (
	replicaName = regexp.MustCompile(`^chittyid-\d+$`)
	// A tag that names a version: not empty, not latest, has a digit.
	pinnedTag     = regexp.MustCompile(`^[^:@]+(:[^:@]*\d[^:@]*)?(@sha256:[0-9a-f]{64})?$`)
	secretLooking = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SEQUENCE_KEY)`)
	urlPassword   = regexp.MustCompile(`://[^/:@]+:[^/@]+@`)
)

func (c *checker) policy(p *types.Project, profiles []string, label string) {
	var replicas []types.ServiceConfig
	for _, name := range p.ServiceNames() {
		if replicaName.MatchString(name) {
			s, _ := p.GetService(name)
			replicas = append(replicas, s)
		}
	}
	sort.Slice(replicas, func(i, j int) bool { return replicas[i].Name < replicas[j].Name })
	if len(replicas) < 2 {
		c.fail("%s: %d ChittyID replica service(s) (chittyid-N), want at least 2", label, len(replicas))
	}

	nodeIDs := map[string]string{}
	for _, s := range replicas {
		c.replicaPolicy(p, s, label)
		if id := envValue(s, "CHITTYID_NODE_ID"); id != "" {
			if other, dup := nodeIDs[id]; dup {
				c.fail("%s: services %s and %s share CHITTYID_NODE_ID=%s; each replica needs its own", label, other, s.Name, id)
			}
			nodeIDs[id] = s.Name
		}
	}

	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		s, _ := p.GetService(name)
		c.commonPolicy(s, label)
	}

	// Envoy in front, publishing the gRPC port.
	envoy, err := p.GetService("envoy")
	if err != nil {
		c.fail("%s: no envoy service in front of the replicas", label)
	} else {
		if !strings.HasPrefix(envoy.Image, "envoyproxy/envoy") {
			c.fail("%s: service envoy: image %q is not envoyproxy/envoy", label, envoy.Image)
		}
		if !publishes(envoy, 50051) {
			c.fail("%s: service envoy does not publish the gRPC port 50051", label)
		}
		mounted := false
		for _, v := range envoy.Volumes {
			if v.Target == "/etc/envoy/envoy.yaml" && filepath.Base(v.Source) == "envoy.yaml" {
				mounted = true
			}
		}
		if !mounted {
			c.fail("%s: service envoy does not mount ./envoy.yaml at /etc/envoy/envoy.yaml", label)
		}
	}

	// The single-host database, only under the postgres profile.
	if slices.Contains(profiles, "postgres") {
		pg, err := p.GetService("postgres")
		if err != nil {
			c.fail("%s: no postgres service under the \"postgres\" profile", label)
		} else {
			if !slices.Contains(pg.Profiles, "postgres") {
				c.fail("%s: service postgres is not under profiles: [postgres]", label)
			}
			if !strings.HasPrefix(pg.Image, "postgres:15") || !strings.Contains(pg.Image, "alpine") {
				c.fail("%s: service postgres: image %q, want a pinned postgres:15.x-alpine", label, pg.Image)
			}
			if envValue(pg, "POSTGRES_PASSWORD_FILE") == "" {
				c.fail("%s: service postgres: POSTGRES_PASSWORD_FILE is not set (the password must come from a secret)", label)
			}
			if len(pg.Volumes) == 0 {
				c.fail("%s: service postgres has no volume for its data", label)
			}
		}
	} else if _, err := p.GetService("postgres"); err == nil {
		c.fail("%s: service postgres is enabled without the \"postgres\" profile", label)
	}

	// Secrets are files, never inline values or environment variables.
	for name, sec := range p.Secrets {
		if sec.File == "" && !sec.External {
			c.fail("%s: secret %s is not a file (use file: ./secrets/...)", label, name)
		}
	}
}

// commonPolicy applies to every service: SOP 8.1 pinned images, SOP 8.2 runtime security,
// json-file logging with rotation, health checks, resource limits.
func (c *checker) commonPolicy(s types.ServiceConfig, label string) {
	at := fmt.Sprintf("%s: service %s", label, s.Name)
	if s.Image == "" {
		c.fail("%s: no image", at)
	} else if !pinnedTag.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
		c.fail("%s: image %q is not pinned to a version tag (never latest, SOP 8.1)", at, s.Image)
	}
	if !s.ReadOnly {
		c.fail("%s: read_only is not true (SOP 8.2)", at)
	}
	if !tmpfsHas(s, "/tmp") {
		c.fail("%s: tmpfs lacks /tmp", at)
	}
	if !slices.ContainsFunc(s.CapDrop, func(v string) bool { return strings.EqualFold(v, "ALL") }) {
		c.fail("%s: cap_drop does not contain ALL (SOP 8.2)", at)
	}
	if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") && !slices.Contains(s.SecurityOpt, "no-new-privileges") {
		c.fail("%s: security_opt lacks no-new-privileges:true (SOP 8.2)", at)
	}
	for _, opt := range s.SecurityOpt {
		if strings.Contains(opt, "unconfined") {
			c.fail("%s: security_opt %q disables a kernel protection", at, opt)
		}
	}
	if s.Privileged {
		c.fail("%s: privileged is set", at)
	}
	if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
		c.fail("%s: no healthcheck", at)
	}
	if s.Logging == nil || s.Logging.Driver != "json-file" {
		c.fail("%s: logging driver is not json-file", at)
	} else {
		for _, opt := range []string{"max-size", "max-file"} {
			if s.Logging.Options[opt] == "" {
				c.fail("%s: json-file logging without %s (no rotation)", at, opt)
			}
		}
	}
	if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.NanoCPUs == 0 || s.Deploy.Resources.Limits.MemoryBytes == 0 {
		c.fail("%s: deploy.resources.limits must set cpus and memory", at)
	}
	if s.Deploy == nil || s.Deploy.Resources.Reservations == nil || s.Deploy.Resources.Reservations.NanoCPUs == 0 || s.Deploy.Resources.Reservations.MemoryBytes == 0 {
		c.fail("%s: deploy.resources.reservations must set cpus and memory", at)
	}
	if s.StopGracePeriod == nil {
		c.fail("%s: stop_grace_period is not set", at)
	}
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s.Environment[k]
		if v == nil || *v == "" {
			continue
		}
		if secretLooking.MatchString(k) && !strings.HasSuffix(k, "_FILE") {
			c.fail("%s: environment %s holds a secret value; use a secret file and %s_FILE", at, k, k)
		}
		if urlPassword.MatchString(*v) {
			c.fail("%s: environment %s embeds a password in a URL; use password_file=/run/secrets/...", at, k)
		}
	}
}

// replicaPolicy checks one chittyid-N service against issue 5 item 3 and the SOP.
func (c *checker) replicaPolicy(p *types.Project, s types.ServiceConfig, label string) {
	at := fmt.Sprintf("%s: service %s", label, s.Name)
	want := map[string]string{
		"NODE_ENV":       "production",
		"MAX_BATCH_SIZE": "1000",
		"TARGET_TPS":     "3420",
		"ENABLE_METRICS": "true",
		"METRICS_PORT":   "9090",
	}
	wantKeys := make([]string, 0, len(want))
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	sort.Strings(wantKeys)
	for _, k := range wantKeys {
		v := want[k]
		if got := envValue(s, k); got != v {
			c.fail("%s: environment %s=%q, want %q", at, k, got, v)
		}
	}
	for _, k := range []string{"DATABASE_URL", "CHITTYID_NODE_ID", "CHITTYID_DEFAULT_JURISDICTION", "UV_THREADPOOL_SIZE"} {
		if envValue(s, k) == "" {
			c.fail("%s: environment %s is not set", at, k)
		}
	}
	if db := envValue(s, "DATABASE_URL"); db != "" && !strings.Contains(db, "password_file=/run/secrets/") && envValue(s, "DATABASE_PASSWORD_FILE") == "" {
		c.fail("%s: DATABASE_URL has no password_file=/run/secrets/... (and DATABASE_PASSWORD_FILE is unset)", at)
	}
	mounted := map[string]bool{}
	for _, sec := range s.Secrets {
		target := sec.Target
		if target == "" {
			target = sec.Source
		}
		if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		mounted[target] = true
		if _, ok := p.Secrets[sec.Source]; !ok {
			c.fail("%s: secret %s is not defined", at, sec.Source)
		}
	}
	for _, k := range []string{"CHITTYID_API_KEYS_FILE", "CHITTYID_SEQUENCE_KEY_FILE"} {
		v := envValue(s, k)
		switch {
		case v == "":
			c.fail("%s: environment %s is not set", at, k)
		case !mounted[v]:
			c.fail("%s: %s=%s is not a secret mounted in the service", at, k, v)
		}
	}
	if !tmpfsHas(s, "/app/tmp") {
		c.fail("%s: tmpfs lacks /app/tmp", at)
	}
	if s.Labels["prometheus.io/scrape"] != "true" || s.Labels["prometheus.io/port"] != "9090" {
		c.fail("%s: labels prometheus.io/scrape=true and prometheus.io/port=9090 are missing", at)
	}
	if len(s.CapAdd) > 0 {
		c.fail("%s: cap_add %v; the service binds ports above 1024 and needs no capability", at, s.CapAdd)
	}
	if s.StopGracePeriod != nil && s.StopGracePeriod.String() != "" {
		if d := durationSeconds(*s.StopGracePeriod); d > 30 {
			c.fail("%s: stop_grace_period %s exceeds the SOP's 30 s", at, s.StopGracePeriod.String())
		}
	}
	if s.HealthCheck != nil && !slices.ContainsFunc(s.HealthCheck.Test, func(a string) bool { return strings.Contains(a, "/health") }) {
		c.fail("%s: healthcheck does not probe /health", at)
	}
}

func durationSeconds(d types.Duration) float64 { return float64(d) / 1e9 }

func envValue(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

func tmpfsHas(s types.ServiceConfig, path string) bool {
	return slices.ContainsFunc(s.Tmpfs, func(t string) bool { return strings.SplitN(t, ":", 2)[0] == path })
}

func publishes(s types.ServiceConfig, target uint32) bool {
	for _, port := range s.Ports {
		if port.Target == target && port.Published != "" {
			return true
		}
	}
	return false
}
