#!/usr/bin/python3
"""Self-test of powerloss_fs.py: proves what survives a cut, then measures throughput.

Usage: selftest.py [WORK_DIR]   (root, /dev/fuse and python3-fusepy needed; exit 0 on success)

One mount serves the semantic checks, each scenario in its own folder; it is then unmounted and
remounted to prove the durable state outlives the process. A second mount is killed to prove
its state is refused. On failure the work folder (state, mount point, log) is kept and named.
"""

import errno
import json
import mmap
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FS = os.path.join(HERE, 'powerloss_fs.py')
MOUNT_DEADLINE_S = 20
MIB = 1 << 20


class Mount:
    def __init__(self, work):
        self.state = os.path.join(work, 'state')
        self.root = os.path.join(work, 'mnt')
        self.log_path = os.path.join(work, 'fs.log')
        os.makedirs(self.root, exist_ok=True)
        self.proc = None

    def start(self):
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen([sys.executable, FS, self.state, self.root],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + MOUNT_DEADLINE_S
        while not is_mounted(self.root):
            if self.proc.poll() is not None:
                raise AssertionError('file system exited with %d; see %s' % (self.proc.returncode, self.log_path))
            if time.monotonic() > deadline:
                raise AssertionError('not mounted after %d s; see %s' % (MOUNT_DEADLINE_S, self.log_path))
            try:
                self.proc.wait(0.02)  # a poll interval that also notices an early exit
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        subprocess.run(['fusermount3', '-u', self.root], check=True)
        rc = self.proc.wait(MOUNT_DEADLINE_S)
        assert rc == 0, 'file system exited with %d; see %s' % (rc, self.log_path)

    def cut(self):
        with open(self.p('.powerloss'), 'w') as f:
            f.write('cut')

    def stats(self):
        with open(self.p('.powerloss')) as f:
            return json.loads(f.read())

    def p(self, *names):
        return os.path.join(self.root, *names)


def is_mounted(path):
    with open('/proc/self/mountinfo') as f:
        return any(line.split()[4] == path for line in f)


def write(path, data, sync=False, datasync=False, mode='wb'):
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())
        if datasync:
            os.fdatasync(f.fileno())


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)
    print('  ok  ' + what)


def semantics(m):
    d = m.p('sem')
    os.mkdir(d)
    fsync_dir(m.root)
    path = lambda *names: os.path.join(d, *names)

    def case(name):
        """A folder per scenario, its name durable: a later fsync of one scenario's folder
        must not make another scenario's entries durable."""
        os.mkdir(path(name))
        fsync_dir(d)
        return lambda *names: path(name, *names)

    basic = case('basic')
    write(basic('both'), b'durable', sync=True)                 # data and name durable
    write(basic('name-only'), b'lost data')                     # name durable, data not
    write(basic('overwritten'), b'old', sync=True)
    fsync_dir(basic())
    write(basic('data-only'), b'fsynced', sync=True)            # data durable, name not
    write(basic('overwritten'), b'new, never synced', mode='r+b')

    big_data = random.Random(1).randbytes(3 * MIB)
    big = case('big')
    write(big('f'), big_data, sync=True)
    fsync_dir(big())
    with open(big('f'), 'r+b') as f:                            # unsynced changes to roll back
        f.seek(MIB)
        f.write(b'\xff' * 4096)
        f.truncate(2 * MIB)
        f.seek(5 * MIB)
        f.write(b'tail past a hole')

    over = case('rename-over')
    write(over('x'), b'x-old', sync=True)
    fsync_dir(over())
    write(over('x.tmp'), b'x-new', sync=True)
    os.rename(over('x.tmp'), over('x'))                         # folder not synced
    synced = case('rename-over-synced')
    write(synced('y'), b'y-old', sync=True)
    fsync_dir(synced())
    write(synced('y.tmp'), b'y-new', sync=True)
    os.rename(synced('y.tmp'), synced('y'))
    fsync_dir(synced())

    links = case('links')
    os.symlink('v1', links('link.tmp'))                         # Tern's links: temp + rename
    os.rename(links('link.tmp'), links('link'))
    fsync_dir(links())
    os.symlink('v2', links('link.tmp'))
    os.rename(links('link.tmp'), links('link'))                 # not synced: v1 must return
    os.symlink('w1', links('wlink.tmp'))
    os.rename(links('wlink.tmp'), links('wlink'))               # never synced: must vanish

    tree = case('tree')
    os.mkdir(tree('sub'))
    fsync_dir(tree())
    write(tree('sub', 'f'), b'in sub', sync=True)               # sub's entries never synced
    os.mkdir(tree('sub2'))
    write(tree('sub2', 'f'), b'in sub2', sync=True)
    fsync_dir(tree('sub2'))                                     # sub2's own name never synced

    unl = case('unlink')
    write(unl('gone'), b'g', sync=True)
    write(unl('back'), b'b', sync=True)
    write(unl('kept'), b'k', sync=True)
    fsync_dir(unl())
    os.unlink(unl('gone'))
    os.unlink(unl('back'))
    fsync_dir(unl())
    write(unl('back'), b'b2', sync=True)                        # a new inode, name never synced
    os.unlink(unl('kept'))                                      # unlink never synced

    move = case('move')
    os.mkdir(move('d1'))
    os.mkdir(move('d2'))
    fsync_dir(move())
    write(move('d1', 'f'), b'm', sync=True)
    fsync_dir(move('d1'))
    os.rename(move('d1', 'f'), move('d2', 'f'))
    fsync_dir(move('d2'))                                       # source folder not synced

    misc = case('misc')
    fd = os.open(misc('dsync'), os.O_CREAT | os.O_WRONLY | os.O_DSYNC, 0o644)
    os.write(fd, b'O_DSYNC write')
    os.close(fd)
    write(misc('chmod'), b'c', sync=True)
    fsync_dir(misc())
    os.chmod(misc('chmod'), 0o600)
    with open(misc('chmod'), 'rb') as f:
        os.fsync(f.fileno())

    write(misc('mapped'), b'\0' * 8192, sync=True)
    write(misc('mapped-unsynced'), b'\0' * 4096, sync=True)
    fsync_dir(misc())
    with open(misc('mapped'), 'r+b') as f:
        mm = mmap.mmap(f.fileno(), 8192)
        mm[100:111] = b'mapped data'
        expect(read(misc('mapped'))[100:111] == b'mapped data', 'an mmap write is visible to read() at once')
        mm.flush()                                              # msync(MS_SYNC) reaches fsync
        mm.close()
    with open(misc('mapped-unsynced'), 'r+b') as f:
        mm = mmap.mmap(f.fileno(), 4096)
        mm[0:5] = b'dirty'
        mm.close()

    fd = os.open(misc('falloc'), os.O_CREAT | os.O_RDWR, 0o644)
    os.posix_fallocate(fd, 0, 64 * 1024)
    expect(os.fstat(fd).st_size == 64 * 1024, 'fallocate mode 0 extends the file')
    os.close(fd)
    fsync_dir(misc())

    stale = open(basic('both'), 'rb')
    before = m.stats()
    expect(before['pending_bytes'] > 0 and before['pending_dir_changes'] > 0,
           'stats show pending work before the cut: %s' % before)

    t0 = time.monotonic()
    m.cut()
    cut_ms = (time.monotonic() - t0) * 1000

    after = m.stats()
    expect(after['pending_bytes'] == 0 and after['pending_dir_changes'] == 0 and after['cuts'] == before['cuts'] + 1,
           'nothing pending after the cut: %s' % after)
    try:
        stale.read()
        raise AssertionError('a handle opened before the cut still reads')
    except OSError as e:
        expect(e.errno == errno.EIO, 'a handle opened before the cut fails with EIO')
    stale.close()

    ls = lambda f: sorted(os.listdir(f()))
    expect(ls(basic) == ['both', 'name-only', 'overwritten'], 'basic: only durable names remain: %s' % ls(basic))
    expect(read(basic('both')) == b'durable', 'fsync\'d data under a synced name survives')
    expect(read(basic('name-only')) == b'', 'a synced name without fsync\'d data comes back empty')
    expect(read(basic('overwritten')) == b'old', 'an unsynced overwrite rolls back to the fsync\'d content')
    expect(read(big('f')) == big_data, 'unsynced overwrite, truncate and write past a hole roll back (3 MiB)')
    expect(ls(over) == ['x'] and read(over('x')) == b'x-old', 'a rename over without a folder fsync is undone')
    expect(ls(synced) == ['y'] and read(synced('y')) == b'y-new', 'a rename over with a folder fsync holds')
    expect(ls(links) == ['link'] and os.readlink(links('link')) == 'v1',
           'a symlink replaced by temp + rename without a folder fsync keeps its old target; a new one vanishes')
    expect(ls(tree) == ['sub'] and os.listdir(tree('sub')) == [],
           'a synced subfolder whose entries were never synced is empty; an unsynced one vanishes')
    expect(ls(unl) == ['kept'] and read(unl('kept')) == b'k',
           'synced unlinks hold, an unsynced unlink is undone, an unsynced new name is dropped')
    expect(read(move('d1', 'f')) == b'm' and read(move('d2', 'f')) == b'm' and os.stat(move('d2', 'f')).st_nlink == 2,
           'a move with only the destination synced leaves both names (one inode, nlink 2)')
    expect(read(misc('dsync')) == b'O_DSYNC write', 'an O_DSYNC write is durable')
    expect(os.stat(misc('chmod')).st_mode & 0o777 == 0o600, 'a chmod made durable by fsync survives')
    expect(read(misc('mapped'))[100:111] == b'mapped data', 'an mmap write made durable by msync survives')
    expect(read(misc('mapped-unsynced')) == b'\0' * 4096, 'an mmap write never msync\'d is lost')
    expect(os.stat(misc('falloc')).st_size == 0, 'an unsynced fallocate extension is lost')
    print('  cut took %.1f ms' % cut_ms)

    # Durable after the cut, to be checked after a remount.
    write(basic('both'), b'durable 2', sync=True)
    write(basic('after'), b'after cut, synced', sync=True)
    fsync_dir(basic())
    write(basic('after-unsynced'), b'never synced')


def remount(m):
    basic = lambda name: m.p('sem', 'basic', name)
    m.stop()
    m.start()
    expect(read(basic('both')) == b'durable 2' and read(basic('after')) == b'after cut, synced',
           'after unmount + remount the durable state is there')
    expect(not os.path.exists(basic('after-unsynced')), 'an unmount drops what was never synced')
    expect(os.readlink(m.p('sem', 'links', 'link')) == 'v1', 'a durable symlink survives a remount')


def errors(m):
    d = m.p('err')
    os.mkdir(d)
    write(os.path.join(d, 'f'), b'f')
    os.mkdir(os.path.join(d, 'sub'))
    write(os.path.join(d, 'sub', 'g'), b'g')
    for what, call, code in [
        ('rmdir of a non-empty folder', lambda: os.rmdir(os.path.join(d, 'sub')), errno.ENOTEMPTY),
        ('rename of a file over a folder', lambda: os.rename(os.path.join(d, 'f'), os.path.join(d, 'sub')), errno.EISDIR),
        ('unlink of a folder', lambda: os.unlink(os.path.join(d, 'sub')), errno.EISDIR),
        ('unlinking the control file', lambda: os.unlink(m.p('.powerloss')), errno.EPERM),
        ('an unknown control command', lambda: write(m.p('.powerloss'), b'reboot', mode='r+b'), errno.EINVAL),
    ]:
        try:
            call()
            raise AssertionError(what + ' succeeded')
        except OSError as e:
            expect(e.errno == code, '%s fails with %s' % (what, errno.errorcode[code]))
    expect('.powerloss' not in os.listdir(m.root), 'the control file is not listed')


def injected(m):
    """fail/heal: writes and fallocate of the named files fail with the errno until healed."""
    d = m.p('inj')
    os.mkdir(d)
    write(os.path.join(d, 'data.img'), b'before', sync=True)
    write(os.path.join(d, 'other'), b'other')
    for code in ('EIO', 'ENOSPC'):
        write(m.p('.powerloss'), ('fail %s data.img' % code).encode(), mode='r+b')
        expect(m.stats()['failing'] == code + ' data.img', 'the stats name the fault')
        fd = os.open(os.path.join(d, 'data.img'), os.O_RDWR)
        try:
            try:
                os.pwrite(fd, b'during', 0)
                raise AssertionError('a write to a failing file succeeded')
            except OSError as e:
                expect(e.errno == getattr(errno, code), 'a write fails with ' + code)
            try:
                os.posix_fallocate(fd, 0, 1 << 20)
                raise AssertionError('fallocate of a failing file succeeded')
            except OSError as e:
                expect(e.errno == getattr(errno, code), 'fallocate fails with ' + code)
            expect(os.pread(fd, 6, 0) == b'before', 'reads go on, and a failed write changed nothing')
            os.fsync(fd)
        finally:
            os.close(fd)
        write(os.path.join(d, 'other'), b'other file', sync=True)
        write(m.p('.powerloss'), b'heal', mode='r+b')
        expect(m.stats()['failing'] is None, 'healed')
    write(os.path.join(d, 'data.img'), b'after', sync=True, mode='r+b')
    expect(read(os.path.join(d, 'data.img')) == b'aftere', 'writes go on once healed')
    expect(m.stats()['failed_writes'] == 4, 'failed writes are counted: %s' % m.stats())


def killed(work):
    """A file system killed before it saved its durable folders leaves a state the next mount
    refuses, instead of one it would silently misread."""
    k = Mount(os.path.join(work, 'killed'))
    k.start()
    k.proc.kill()
    k.proc.wait()
    subprocess.run(['umount', '-l', k.root], check=True)
    again = subprocess.run([sys.executable, FS, k.state, k.root], capture_output=True, text=True)
    expect(again.returncode != 0 and 'was killed' in again.stderr,
           'a state folder left by a killed file system is refused: %s' % again.stderr.strip())


def throughput(m, label, root):
    d = os.path.join(root, 'perf')
    os.makedirs(d, exist_ok=True)
    chunk = os.urandom(MIB)
    t0 = time.monotonic()
    with open(os.path.join(d, 'seq'), 'wb') as f:
        for i in range(32):
            f.write(chunk)
            if i % 4 == 3:
                f.flush()
                os.fsync(f.fileno())
    seq = 32 / (time.monotonic() - t0)

    fd = os.open(os.path.join(d, 'append'), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    block = os.urandom(4096)
    n = 2000
    t0 = time.monotonic()
    for _ in range(n):
        os.write(fd, block)
        os.fdatasync(fd)
    append = n / (time.monotonic() - t0)
    os.close(fd)

    # Dirty-range tracking: a 4 KiB change in a 64 MiB file costs a 4 KiB copy, not 64 MiB.
    fd = os.open(os.path.join(d, 'big'), os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    for i in range(64):
        os.pwrite(fd, chunk, i * MIB)
    os.fsync(fd)
    rnd = random.Random(2)
    t0 = time.monotonic()
    for _ in range(n):
        os.pwrite(fd, block, rnd.randrange(16384) * 4096)
        os.fdatasync(fd)
    overwrite = n / (time.monotonic() - t0)
    os.close(fd)
    print('  %-16s 32 MiB in 1 MiB writes, fsync per 4 MiB: %6.0f MB/s' % (label, seq * MIB / 1e6))
    print('  %-16s 4 KiB append + fdatasync:               %6.0f ops/s' % (label, append))
    print('  %-16s 4 KiB overwrite in 64 MiB + fdatasync:  %6.0f ops/s' % (label, overwrite))
    return append, overwrite


def main(argv):
    work = argv[1] if len(argv) > 1 else tempfile.mkdtemp(prefix='powerloss-selftest-')
    m = Mount(work)
    ok = False
    try:
        m.start()
        print('semantics')
        semantics(m)
        print('remount')
        remount(m)
        print('errors')
        errors(m)
        print('injected faults')
        injected(m)
        killed(work)
        print('throughput')
        fs_append, fs_overwrite = throughput(m, 'powerloss fs', m.root)
        throughput(m, 'backing disk', os.path.join(work, 'direct'))
        expect(fs_overwrite > fs_append / 4, 'an fsync after a small overwrite of a big file stays cheap')
        m.cut()
        m.stop()
        with open(m.log_path) as f:
            problems = [line for line in f if 'ERROR' in line or 'CRITICAL' in line or 'Traceback' in line]
        expect(not problems, 'the file system logged no errors: %s' % problems[:3])
        ok = True
    finally:
        if m.proc is not None and m.proc.poll() is None:
            m.stop()
        if ok:
            shutil.rmtree(work)
            print('PASS')
        else:
            print('FAIL: kept %s (log: %s)' % (work, m.log_path))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
