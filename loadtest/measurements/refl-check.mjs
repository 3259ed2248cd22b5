import { spawnSync } from 'node:child_process';
import { startService, startPostgres, withDatabase } from '/work/main/loadtest/lib.mjs';
const admin = startPostgres();
const svc = await startService({ databaseUrl: withDatabase(admin, 'chittyid_loadtest'), sequenceKey: 'chittyid-loadtest-sequence-key-not-a-secret-0001', poolSize: 2, logFile: '/tmp/refl-svc.log' });
console.log('pid', svc.pid, 'target', svc.target);
const ghz = process.env.HOME + '/go/bin/ghz';
for (const args of [
  ['--insecure', '--call', 'grpc.health.v1.Health/Check', '-d', '{}', '-n', '5', svc.target],
  ['--insecure', '--call', 'chittyid.v1.ChittyIdService/Mint', '-d', '{"entity_type":"ENTITY_TYPE_PERSON","jurisdiction":"USA"}', '-n', '5', svc.target],
]) {
  const r = spawnSync(ghz, args, { encoding: 'utf8' });
  console.log('$ ghz', args.join(' '), '\nexit', r.status, '\n', (r.stdout + r.stderr).split('\n').filter(l => /Count|Requests\/sec|Error|error|OK|Status|\[/.test(l)).join('\n'));
}
await svc.stop();
