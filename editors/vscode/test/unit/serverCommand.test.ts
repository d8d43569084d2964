import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downloadCommand, expandPath, findExecutable, formatCommand, serveCommand, serverExecutable } from '../../src/core/serverCommand';

const vars = { home: '/home/ada', workspaceFolder: '/work/proj' };

describe('server command resolution', () => {
  it('pythonPath unset: infill-ls serve from PATH', () => {
    assert.deepEqual(serveCommand({ command: [], pythonPath: '' }, vars), { command: 'infill-ls', args: ['serve'], source: 'path' });
  });

  it('pythonPath set: <python> -m infill_ls serve', () => {
    assert.deepEqual(serveCommand({ command: [], pythonPath: '/usr/bin/python3' }, vars), {
      command: '/usr/bin/python3',
      args: ['-m', 'infill_ls', 'serve'],
      source: 'pythonPath',
    });
  });

  it('pythonPath with ~ and ${workspaceFolder}', () => {
    assert.equal(serveCommand({ command: [], pythonPath: '~/venv/bin/python' }, vars).command, '/home/ada/venv/bin/python');
    assert.equal(serveCommand({ command: [], pythonPath: '${workspaceFolder}/.venv/bin/python' }, vars).command, '/work/proj/.venv/bin/python');
  });

  it('the installed server when nothing is set, before PATH', () => {
    assert.deepEqual(serveCommand({ command: [], pythonPath: '' }, vars, '/s/venv/bin/python'), {
      command: '/s/venv/bin/python',
      args: ['-m', 'infill_ls', 'serve'],
      source: 'managed',
    });
  });

  it('pythonPath and command win over the installed server', () => {
    assert.equal(serveCommand({ command: [], pythonPath: '/usr/bin/python3' }, vars, '/s/venv/bin/python').source, 'pythonPath');
    assert.equal(serveCommand({ command: ['/x/infill-ls'], pythonPath: '' }, vars, '/s/venv/bin/python').source, 'command');
  });

  it('an explicit command wins over pythonPath and is used as given', () => {
    const resolved = serveCommand({ command: ['${userHome}/bin/infill-ls', 'serve', '--model', '~/m.gguf'], pythonPath: '/usr/bin/python3' }, vars);
    assert.deepEqual(resolved, { command: '/home/ada/bin/infill-ls', args: ['serve', '--model', '/home/ada/m.gguf'], source: 'command' });
  });
});

describe('download command', () => {
  const cases: [string, readonly string[], string, string[]][] = [
    ['from PATH', [], '', ['infill-ls', 'download', 'org/repo', 'm.gguf']],
    ['with pythonPath', [], '/py', ['/py', '-m', 'infill_ls', 'download', 'org/repo', 'm.gguf']],
    ['custom command: serve and its options replaced', ['/x/infill-ls', 'serve', '--model', 'a.gguf'], '', ['/x/infill-ls', 'download', 'org/repo', 'm.gguf']],
    ['custom command without serve: download appended', ['python3', '-m', 'infill_ls'], '', ['python3', '-m', 'infill_ls', 'download', 'org/repo', 'm.gguf']],
  ];
  for (const [name, command, pythonPath, expected] of cases) {
    it(name, () => {
      const line = downloadCommand({ command, pythonPath }, vars, 'org/repo', 'm.gguf');
      assert.deepEqual([line.command, ...line.args], expected);
    });
  }

  it('leaves out an empty repo or file (the server uses its defaults)', () => {
    assert.deepEqual(downloadCommand({ command: [], pythonPath: '' }, vars, '', '').args, ['download']);
  });
});

describe('finding the program', () => {
  const files = new Set(['/usr/bin/infill-ls', '/opt/py/bin/python3', 'C:\\Tools\\infill-ls.exe']);
  const isFile = (p: string) => files.has(p);

  it('looks a bare name up in PATH', () => {
    assert.equal(findExecutable('infill-ls', { PATH: '/bin:/usr/bin' }, 'linux', isFile), '/usr/bin/infill-ls');
    assert.equal(findExecutable('python3', { PATH: '/bin:/opt/py/bin/' }, 'linux', isFile), '/opt/py/bin/python3');
  });

  it('checks a path as it is', () => {
    assert.equal(findExecutable('/opt/py/bin/python3', { PATH: '' }, 'linux', isFile), '/opt/py/bin/python3');
    assert.equal(findExecutable('/nowhere/python', { PATH: '/usr/bin' }, 'linux', isFile), undefined);
  });

  it('reports a missing program', () => {
    assert.equal(findExecutable('infill-ls', { PATH: '/bin' }, 'linux', isFile), undefined);
    assert.equal(findExecutable('infill-ls', {}, 'linux', isFile), undefined);
  });

  it('uses PATHEXT on Windows', () => {
    assert.equal(findExecutable('infill-ls', { PATH: 'C:\\Windows;C:\\Tools', PATHEXT: '.COM;.EXE' }, 'win32', isFile), 'C:\\Tools\\infill-ls.exe');
  });
});

describe('helpers', () => {
  it('expands ~ only at the start', () => {
    assert.equal(expandPath('~', vars), '/home/ada');
    assert.equal(expandPath('a~b', vars), 'a~b');
    assert.equal(expandPath('${workspaceFolder}/x', { home: '/h' }), '${workspaceFolder}/x');
  });

  it('quotes arguments with spaces for display', () => {
    assert.equal(formatCommand({ command: '/my tools/py', args: ['-m', 'infill_ls'] }), '"/my tools/py" -m infill_ls');
  });
});

describe('the Executable given to vscode-languageclient', () => {
  const line = serveCommand({ command: [], pythonPath: '/usr/bin/python3' }, vars);
  const executable = serverExecutable(line, '/work/proj', { PATH: '/usr/bin' });

  it('runs the resolved command line as it is', () => {
    assert.equal(executable.command, '/usr/bin/python3');
    assert.deepEqual(executable.args, ['-m', 'infill_ls', 'serve']);
    assert.equal(executable.options.cwd, '/work/proj');
  });

  it('has no transport, so the client adds no --stdio argument (older infill-ls versions reject it)', () => {
    assert.equal('transport' in executable, false);
  });

  it('keeps the environment and unbuffers Python output', () => {
    assert.deepEqual(executable.options.env, { PATH: '/usr/bin', PYTHONUNBUFFERED: '1' });
  });
});
