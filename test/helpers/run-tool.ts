// Runs one of tools/*.ts as a child process to its end (killed after a
// generous timeout, so a hung tool cannot outlive the test).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(tool: string, args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'tools', tool), ...args], {
      cwd: PROJECT_ROOT,
      timeout: timeoutMs,
      // Only what the tool is given: no settings leak in from the developer's shell.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
