// Bare PGlite for the idle-RSS baseline: plain Node (no tsx), the same package and postgresql.conf the server
// uses, opened on an existing migrated data directory, one query run. Then it idles until killed.
import { PGlite } from '@electric-sql/pglite';

const [, , dataDir, conf] = process.argv;
const db = await PGlite.create({ dataDir, postgresqlconf: JSON.parse(conf) });
await db.query('select count(*) from messages');
process.send({ type: 'ready' });
process.on('message', (m) => {
  if (m.type === 'stop') db.close().then(() => process.exit(0));
});
