// Command dockerfile checks the Dockerfile with BuildKit's own frontend: the parser and
// instruction model that `docker build` uses, and the rules that `docker build --check`
// runs (every lint warning fails). On top of that it checks each SOP-DEPLOY-002
// checkpoint: multi-stage, pinned node:20 Alpine base, non-root user chittyid/1001,
// HEALTHCHECK on /health, tini entrypoint, node (not npm) as the command, exposed ports,
// OCI labels, and no secret in any layer. With -dockerignore it also checks the build
// context rules with the same pattern matcher Docker uses.
//
// Usage: dockerfile [-f Dockerfile] [-dockerignore .dockerignore]
//
// Exit 0 and one "OK" line when valid; exit 1 with one line per problem otherwise.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
)

type checker struct{ problems []string }

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func main() {
	path := flag.String("f", "Dockerfile", "Dockerfile to check")
	ignore := flag.String("dockerignore", "", ".dockerignore to check (optional)")
	flag.Parse()

	c := &checker{}
	dt, err := os.ReadFile(*path)
	if err != nil {
		c.fail("read: %v", err)
	} else {
		c.lint(*path, dt)
		if stages, err := parse(dt); err != nil {
			c.fail("parse: %v", err)
		} else {
			c.policy(stages)
		}
	}
	if *ignore != "" {
		c.dockerignore(*ignore)
	}
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Fprintf(os.Stderr, "dockerfile: %s: %s\n", *path, p)
		}
		fmt.Fprintf(os.Stderr, "dockerfile: %s: FAILED (%d problem(s))\n", *path, len(c.problems))
		os.Exit(1)
	}
	fmt.Printf("dockerfile: %s: OK (BuildKit parser and build checks, SOP checkpoints%s)\n", *path,
		map[bool]string{true: ", .dockerignore", false: ""}[*ignore != ""])
}

// lint runs BuildKit's `docker build --check` rules; experimental rules included.
func (c *checker) lint(path string, dt []byte) {
	ctx := context.Background()
	// The source map as the dockerui frontend builds it (the lint result refers to it).
	src := llb.Local("dockerfile")
	def, err := src.Marshal(ctx)
	if err != nil {
		c.fail("build check: %v", err)
		return
	}
	smap := llb.NewSourceMap(&src, path, "Dockerfile", dt)
	smap.Definition = def
	res, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{LinterConfig: &linter.Config{ExperimentalAll: true}},
		SourceMap:    smap,
		MetaResolver: offlineResolver{},
	})
	if err != nil {
		c.fail("build check: %v", err)
		return
	}
	if res.Error != nil {
		c.fail("build check: %s", res.Error.Message)
	}
	for _, w := range res.Warnings {
		line := 0
		if len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		c.fail("line %d: build check %s: %s", line, w.RuleName, w.Detail)
	}
}

// offlineResolver answers base-image lookups without a registry (BuildKit's default
// resolver would contact docker.io): a minimal linux/amd64 image config.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	return ref, digest.FromBytes([]byte(ref)), cfg, nil
}

func parse(dt []byte) ([]instructions.Stage, error) {
	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, err
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	return stages, err
}

var (
	// node:20.<minor>.<patch>-alpine<major>.<minor>, optionally with a digest.
	pinnedNode = regexp.MustCompile(`^node:20\.\d+\.\d+-alpine\d+\.\d+(@sha256:[0-9a-f]{64})?$`)
	// BuildKit's SecretsUsedInArgOrEnv tokens (dockerfile2llb), applied to LABEL too.
	secretName  = regexp.MustCompile(`(?i)(?:_|^|\.)(?:apikey|api_key|auth|credentials?|key|password|pword|passwd|secret|token)(?:_|$|\.)`)
	secretAllow = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
	// Files that carry secrets and must never be copied into a layer.
	secretSource = regexp.MustCompile(`(?i)(^|/)(\.env(\..*)?|secrets?(/.*)?|.*\.(pem|key|p12|pfx)|id_rsa.*|\.npmrc)$`)
	ociLabels    = []string{"created", "version", "revision", "title", "description", "vendor", "url", "source"}
)

func (c *checker) policy(stages []instructions.Stage) {
	if len(stages) < 2 {
		c.fail("not multi-stage: %d FROM, want a build stage and a production stage", len(stages))
	}
	names := map[string]bool{}
	for _, st := range stages {
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
	}
	for i, st := range stages {
		base := st.BaseName
		if names[strings.ToLower(base)] {
			continue // FROM an earlier stage
		}
		if !pinnedNode.MatchString(base) {
			c.fail("stage %d: base image %q is not a pinned node:20 Alpine tag (want node:20.X.Y-alpineA.B, never latest or a floating tag)", i+1, base)
		}
	}
	for i, st := range stages {
		c.noSecrets(i+1, st)
	}
	if len(stages) == 0 {
		return
	}
	final := stages[len(stages)-1]
	c.finalStage(final, names)
}

func (c *checker) noSecrets(n int, st instructions.Stage) {
	isSecret := func(k string) bool { return secretName.MatchString(k) && !secretAllow.MatchString(k) }
	for _, cmd := range st.Commands {
		switch cmd := cmd.(type) {
		case *instructions.EnvCommand:
			for _, kv := range cmd.Env {
				if isSecret(kv.Key) && kv.Value != "" {
					c.fail("stage %d: ENV %s holds a value that looks like a secret; it would be stored in the image", n, kv.Key)
				}
			}
		case *instructions.ArgCommand:
			for _, kv := range cmd.Args {
				if isSecret(kv.Key) {
					c.fail("stage %d: ARG %s looks like a secret; build args are recorded in the image history (use RUN --mount=type=secret)", n, kv.Key)
				}
			}
		case *instructions.LabelCommand:
			for _, kv := range cmd.Labels {
				if isSecret(kv.Key) && kv.Value != "" {
					c.fail("stage %d: LABEL %s holds a value that looks like a secret", n, kv.Key)
				}
			}
		case *instructions.CopyCommand:
			if cmd.From == "" {
				c.secretSources(n, "COPY", cmd.SourcePaths)
			}
		case *instructions.AddCommand:
			c.secretSources(n, "ADD", cmd.SourcePaths)
		}
	}
}

func (c *checker) secretSources(n int, instr string, sources []string) {
	for _, src := range sources {
		clean := strings.TrimPrefix(strings.TrimPrefix(src, "./"), "/")
		if secretSource.MatchString(clean) {
			c.fail("stage %d: %s %s copies a secret or environment file into the image", n, instr, src)
		}
	}
}

func (c *checker) finalStage(st instructions.Stage, stageNames map[string]bool) {
	var (
		user        string
		health      *instructions.HealthCheckCommand
		entrypoint  *instructions.EntrypointCommand
		cmdLine     *instructions.CmdCommand
		exposed     []string
		labels      = map[string]string{}
		env         = map[string]string{}
		fromBuilder bool
	)
	for _, cmd := range st.Commands {
		switch cmd := cmd.(type) {
		case *instructions.UserCommand:
			user = cmd.User
		case *instructions.HealthCheckCommand:
			health = cmd
		case *instructions.EntrypointCommand:
			entrypoint = cmd
		case *instructions.CmdCommand:
			cmdLine = cmd
		case *instructions.ExposeCommand:
			for _, p := range cmd.Ports {
				exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
			}
		case *instructions.LabelCommand:
			for _, kv := range cmd.Labels {
				labels[kv.Key] = kv.Value
			}
		case *instructions.EnvCommand:
			for _, kv := range cmd.Env {
				env[kv.Key] = kv.Value
			}
		case *instructions.CopyCommand:
			if stageNames[strings.ToLower(cmd.From)] {
				fromBuilder = true
			}
			if cmd.From == "" && slices.Contains(cmd.SourcePaths, ".") {
				c.fail("production stage: COPY . copies the whole build context; copy the built artefacts from the build stage")
			}
		}
	}

	switch u := strings.SplitN(user, ":", 2)[0]; u {
	case "chittyid", "1001":
	case "":
		c.fail("production stage: no USER; the container would run as root (want USER chittyid or 1001)")
	default:
		c.fail("production stage: USER %s, want chittyid (uid 1001); never root", user)
	}
	if !fromBuilder {
		c.fail("production stage copies nothing from the build stage (COPY --from=builder)")
	}

	if health == nil || health.Health == nil || len(health.Health.Test) == 0 || health.Health.Test[0] == "NONE" {
		c.fail("production stage: no HEALTHCHECK")
	} else if probe := strings.Join(health.Health.Test, " "); !strings.Contains(probe, "/health") || !strings.Contains(probe, ":3000") {
		c.fail("production stage: HEALTHCHECK %q does not probe the HTTP /health endpoint on port 3000", probe)
	}

	if entrypoint == nil || entrypoint.PrependShell || len(entrypoint.CmdLine) == 0 || !strings.HasSuffix(entrypoint.CmdLine[0], "tini") {
		c.fail("production stage: ENTRYPOINT is not tini in exec form (ENTRYPOINT [\"/sbin/tini\", \"--\"])")
	}
	if cmdLine == nil || len(cmdLine.CmdLine) == 0 {
		c.fail("production stage: no CMD")
	} else if cmdLine.PrependShell || cmdLine.CmdLine[0] != "node" {
		c.fail("production stage: CMD %q must run node directly in exec form (not npm, not a shell)", strings.Join(cmdLine.CmdLine, " "))
	}

	for _, p := range []string{"50051", "3000", "9090"} {
		if !slices.Contains(exposed, p) {
			c.fail("production stage: EXPOSE lacks %s", p)
		}
	}
	for _, kv := range [][2]string{{"NODE_ENV", "production"}, {"HOST", "0.0.0.0"}} {
		if env[kv[0]] != kv[1] {
			c.fail("production stage: ENV %s=%q, want %q", kv[0], env[kv[0]], kv[1])
		}
	}
	for _, l := range ociLabels {
		if labels["org.opencontainers.image."+l] == "" {
			c.fail("production stage: OCI label org.opencontainers.image.%s is missing (SOP 5.2.1)", l)
		}
	}
}

// dockerignore checks the build context with moby/patternmatcher, which Docker uses.
func (c *checker) dockerignore(path string) {
	f, err := os.Open(path)
	if err != nil {
		c.fail(".dockerignore: %v", err)
		return
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		c.fail(".dockerignore: %v", err)
		return
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		c.fail(".dockerignore: %v", err)
		return
	}
	excluded := func(p string) bool {
		ok, err := pm.MatchesOrParentMatches(p)
		return err == nil && ok
	}
	for _, p := range []string{".env", ".env.production", "secrets/db_password", "node_modules/pg/package.json",
		"dist/src/main.js", "data/pglite/PG_VERSION", ".git/config", "test/mint.test.ts", "coverage/index.html"} {
		if !excluded(p) {
			c.fail(".dockerignore: %s would be sent to the build context (must be excluded)", p)
		}
	}
	for _, p := range []string{"package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json",
		"proto/chittyid/v1/chittyid.proto", "proto/buf.gen.yaml", "src/main.ts", "workers/mint.worker.ts",
		"scripts/prune-node-modules.sh"} {
		if excluded(p) {
			c.fail(".dockerignore: %s is excluded but the build stage needs it", p)
		}
	}
}
