// GET /api/admin/v1/backup (admin key): the backup archive as one gzipped
// tar stream, for the console and cron jobs (`curl -o`). One backup at a
// time per server: a second request while one streams gets 409, so a
// retry loop cannot fill the disk with staged copies.
import Router from '@koa/router';
import type { Logger } from 'pino';
import type { Authenticator } from '../http/auth.js';
import { facepassRoute, RESPONDED } from '../facepass/envelope.js';
import { createBackupArchive, type BackupSources } from './archive.js';

export const BACKUP_PATH = '/api/admin/v1/backup';

export interface BackupRouteDeps {
  auth: Authenticator;
  logger: Logger;
  sources: BackupSources;
}

export function backupRouter(deps: BackupRouteDeps): Router {
  const router = new Router();
  let running = false;
  router.get(
    BACKUP_PATH,
    facepassRoute(deps.auth, 'admin', deps.logger, async (ctx) => {
      if (running) {
        ctx.status = 409;
        ctx.body = { code: 409, message: 'BACKUP_IN_PROGRESS', timestamp: Date.now(), timecost: 0, data: {} };
        return RESPONDED;
      }
      running = true;
      let archive;
      try {
        archive = await createBackupArchive(deps.sources);
      } catch (err) {
        running = false;
        throw err;
      }
      const done = () => (running = false);
      archive.stream.once('close', done);
      archive.stream.once('error', (err) => deps.logger.error({ err }, 'backup stream failed'));
      const stamp = new Date(archive.manifest.createdAt).toISOString().replace(/[:.]/g, '-');
      ctx.set('Content-Disposition', `attachment; filename="facepass-backup-${stamp}.tar.gz"`);
      ctx.set('Cache-Control', 'no-store');
      deps.logger.info({ files: archive.manifest.files.map((f) => ({ path: f.path, bytes: f.bytes })) }, 'backup streaming');
      return { stream: archive.stream, mime: 'application/gzip' };
    }),
  );
  return router;
}
