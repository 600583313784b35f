/** `tads migrate`: brings the database's schema up to date and says what it applied. */
import { migrate } from '../../db/migrate.js';
import type { CommandSpec } from '../args.js';
import { DATABASE_FLAGS, openCliDatabase } from '../database.js';

/** The `migrate` command. */
export const migrateCommand: CommandSpec = {
  name: 'migrate',
  summary: 'Apply pending database migrations',
  flags: DATABASE_FLAGS,
  async run(flags, io) {
    const db = await openCliDatabase(flags, io);
    try {
      const result = await migrate(db.pool);
      if (io.json)
        io.out.write(
          JSON.stringify({ applied: result.applied, already_applied: result.alreadyApplied }) + '\n',
        );
      else if (result.applied.length === 0)
        io.out.write(`schema up to date (${result.alreadyApplied} migrations)\n`);
      else for (const m of result.applied) io.out.write(`applied ${m}\n`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
