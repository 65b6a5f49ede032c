#!/usr/bin/python3
"""Power-loss test file system: a FUSE mount that holds back everything not fsync'd.

Usage: powerloss_fs.py STATE_DIR MOUNTPOINT   (runs in the foreground until unmounted)

Model (strict POSIX, stricter than ext4 in practice):
  * The live view is what processes see; every write, truncate, create, mkdir, unlink, rmdir,
    rename, link, symlink, chmod, chown and utimens shows at once.
  * fsync/fdatasync of a file makes that inode's current data and size durable (fsync also its
    mode, owner and times). It does not make any name of the file durable.
  * fsync of a directory makes its current entries (name -> inode, with symlink targets and
    subdirectories) durable, and its mode. A subdirectory's own entries need their own fsync.
    An entry for an inode with no durable content yet makes it durable empty.
  * Writing "cut" to /.powerloss replaces the live view with the durable one, as a power cut
    would: a file fsync'd but never named by a directory fsync disappears; a durable name whose
    data was never fsync'd comes back with its last fsync'd content (or empty). Handles opened
    before the cut fail with EIO. Reading /.powerloss returns one line of JSON counters.
  * Writing "fail EIO NAME" or "fail ENOSPC NAME" to /.powerloss makes every later write and
    fallocate of a file whose path ends with NAME fail with that error (a failing disk, a full
    file system) until "heal" is written; reads, fsyncs and other files are untouched.
  * A rename is durable in the destination once that folder is fsync'd and gone from the
    source once the source folder is; until both, a cut may leave both names or neither.
  * Mounting starts from the durable state kept in STATE_DIR, so an unmount is a power cut too.
  * sync(2)/syncfs(2) never reach a libfuse 2 file system: they make nothing durable.

STATE_DIR layout: live/<ino> holds the live data of each file inode, durable/<ino> the durable
data (and mode, owner, times) of each durable file inode, durable.json the durable directories
and symlinks, written when the mount ends cleanly. While mounted, STATE_DIR/mounted exists: a
state folder that still has it was left by a file system that was killed, and is refused.
Invariant per live file inode: outside its dirty ranges, each offset holds the same byte in
live/<ino> and in durable/<ino> (empty if absent), or lies past the end of both; so an fsync
copies only the dirty ranges forward and a cut copies only them back.
"""

import bisect
import ctypes
import errno
import json
import logging
import os
import stat
import sys
import time

import fusepy

ROOT_INO = 1
CONTROL_PATH = '/.powerloss'
STATE_FORMAT = 'tern-powerloss-state'
STATE_VERSION = 1
# libfuse 2 caps a write request at 128 KiB; without big_writes the kernel sends 4 KiB ones.
MAX_WRITE = 128 * 1024
DIR_SIZE = 4096


def _fail(code):
    raise fusepy.FuseOSError(code)


class RangeSet:
    """Disjoint, non-touching [start, end) byte ranges, kept sorted."""

    __slots__ = ('starts', 'ends')

    def __init__(self):
        self.starts = []
        self.ends = []

    def add(self, start, end):
        if start >= end:
            return
        # Ranges that overlap or touch [start, end] form one run [i, j): merge them.
        i = bisect.bisect_left(self.ends, start)
        j = bisect.bisect_right(self.starts, end)
        if i < j:
            start = min(start, self.starts[i])
            end = max(end, self.ends[j - 1])
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def __iter__(self):
        return zip(self.starts, self.ends)

    def total(self):
        return sum(self.ends) - sum(self.starts)

    def clear(self):
        self.starts.clear()
        self.ends.clear()


class Inode:
    """A live inode. kind is 'f' (file), 'd' (directory) or 'l' (symlink)."""

    __slots__ = ('ino', 'kind', 'mode', 'uid', 'gid', 'atime_ns', 'mtime_ns', 'ctime_ns',
                 'nlink', 'size', 'dirty', 'target', 'entries', 'fd', 'opens')

    def __init__(self, ino, kind, mode, uid, gid, mtime_ns):
        self.ino = ino
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.atime_ns = self.mtime_ns = self.ctime_ns = mtime_ns
        self.nlink = 0
        self.size = 0
        self.dirty = RangeSet() if kind == 'f' else None
        self.target = None
        self.entries = {} if kind == 'd' else None
        self.fd = -1      # live/<ino> opened O_RDWR while opens > 0
        self.opens = 0

    def meta(self):
        return {'mode': self.mode, 'uid': self.uid, 'gid': self.gid, 'mtime_ns': self.mtime_ns}

    def touch(self):
        self.mtime_ns = self.ctime_ns = time.time_ns()


class Handle:
    """An open file: of a file inode (content None), dropped at a cut; or of /.powerloss (inode
    None), holding the stats taken when it was opened."""

    __slots__ = ('inode', 'content')

    def __init__(self, inode, content=None):
        self.inode = inode
        self.content = content


def copy_range(src_fd, dst_fd, offset, count):
    """Copies count bytes at offset from src_fd to the same offset of dst_fd, in the kernel."""
    while count > 0:
        n = os.copy_file_range(src_fd, dst_fd, min(count, 1 << 30), offset, offset)
        if n == 0:
            raise OSError(errno.EIO, 'source ended early while copying at offset %d' % offset)
        offset += n
        count -= n


class DurableStore:
    """What survives a cut. Files: durable/<ino> (data, size, mode, owner, times), written at
    each fsync; directories and symlinks: in memory, saved to durable.json when the mount ends
    (a per-fsync rewrite costs milliseconds once a folder holds hundreds of links). The host
    disk underneath is never fsync'd: the store must outlive this process, not the host."""

    def __init__(self, state_dir):
        self.data_dir = os.path.join(state_dir, 'durable')
        self.json_path = os.path.join(state_dir, 'durable.json')
        self.marker_path = os.path.join(state_dir, 'mounted')
        if os.path.exists(self.marker_path):
            raise SystemExit('%s exists: the file system that used %s was killed before it saved its '
                             'durable folders; delete the folder to start empty' % (self.marker_path, state_dir))
        os.makedirs(self.data_dir, exist_ok=True)
        self.files = set()
        self.dirs = {}       # ino -> {'mode','uid','gid','mtime_ns','entries': {name: ino}}
        self.links = {}      # ino -> {'mode','uid','gid','mtime_ns','target'}
        self.refcount = {}   # ino -> entries naming it, over every durable directory
        self.next_ino = ROOT_INO + 1
        self._load()
        with open(self.marker_path, 'w') as f:
            f.write('%d\n' % os.getpid())

    def _load(self):
        if os.path.exists(self.json_path):
            with open(self.json_path, encoding='utf-8') as f:
                doc = json.load(f)
            if doc.get('format') != STATE_FORMAT or doc.get('version') != STATE_VERSION:
                raise SystemExit('%s: not a %s v%d file' % (self.json_path, STATE_FORMAT, STATE_VERSION))
            self.next_ino = doc['next_ino']
            self.dirs = {int(k): v for k, v in doc['dirs'].items()}
            self.links = {int(k): v for k, v in doc['symlinks'].items()}
        else:
            self.dirs[ROOT_INO] = {'mode': stat.S_IFDIR | 0o755, 'uid': os.getuid(),
                                   'gid': os.getgid(), 'mtime_ns': time.time_ns(), 'entries': {}}
        for name in os.listdir(self.data_dir):
            ino = int(name)
            self.files.add(ino)
            self.next_ino = max(self.next_ino, ino + 1)
        for ino in list(self.dirs) + list(self.links):
            self.next_ino = max(self.next_ino, ino + 1)
        self.count_refs()

    def save(self):
        """Writes durable.json and clears the in-use marker; the last call of a mount."""
        doc = {'format': STATE_FORMAT, 'version': STATE_VERSION, 'next_ino': self.next_ino,
               'dirs': self.dirs, 'symlinks': self.links}
        tmp = self.json_path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(json.dumps(doc, separators=(',', ':')))
        os.replace(tmp, self.json_path)
        os.unlink(self.marker_path)

    def path(self, ino):
        return os.path.join(self.data_dir, str(ino))

    def has(self, ino):
        return ino in self.files or ino in self.dirs or ino in self.links

    def referenced(self, ino):
        return self.refcount.get(ino, 0) > 0

    def count_refs(self):
        self.refcount = {}
        for d in self.dirs.values():
            for child in d['entries'].values():
                self.refcount[child] = self.refcount.get(child, 0) + 1

    def _unref(self, ino):
        self.refcount[ino] -= 1
        if self.refcount[ino] == 0:
            del self.refcount[ino]

    def reachable(self):
        """ino -> durable link count, for every inode reachable from the root. The durable tree
        may hold one directory under two names, or even a cycle (a directory moved and only one
        side fsync'd), so the walk keeps a visited set."""
        nlink = {ROOT_INO: 1}
        stack = [ROOT_INO]
        while stack:
            for child in self.dirs[stack.pop()]['entries'].values():
                if child in nlink:
                    nlink[child] += 1
                    continue
                nlink[child] = 1
                if child in self.dirs:
                    stack.append(child)
        return nlink

    def sync_file(self, inode, datasync):
        """Makes inode's live data and size durable by copying only its dirty ranges."""
        fd = os.open(self.path(inode.ino), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            for start, end in inode.dirty:
                if start < inode.size:
                    copy_range(inode.fd, fd, start, min(end, inode.size) - start)
            os.ftruncate(fd, inode.size)
            if not datasync or inode.ino not in self.files:
                self._set_file_meta(fd, inode)
        finally:
            os.close(fd)
        self.files.add(inode.ino)
        inode.dirty.clear()

    def birth(self, inode):
        """Makes an inode durable as it was created: empty, or with its symlink target."""
        if inode.kind == 'f':
            fd = os.open(self.path(inode.ino), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                self._set_file_meta(fd, inode)
            finally:
                os.close(fd)
            self.files.add(inode.ino)
        elif inode.kind == 'd':
            self.dirs[inode.ino] = dict(inode.meta(), entries={})
        else:
            self.links[inode.ino] = dict(inode.meta(), target=inode.target)

    @staticmethod
    def _set_file_meta(fd, inode):
        os.fchmod(fd, stat.S_IMODE(inode.mode))
        os.fchown(fd, inode.uid, inode.gid)
        os.utime(fd, ns=(inode.atime_ns, inode.mtime_ns))

    def sync_dir(self, inode):
        """Makes a directory's entries durable; returns the inodes it no longer names."""
        old = self.dirs.get(inode.ino, {'entries': {}})['entries']
        new = dict(inode.entries)
        self.dirs[inode.ino] = dict(inode.meta(), entries=new)
        for name, child in new.items():
            if old.get(name) != child:
                self.refcount[child] = self.refcount.get(child, 0) + 1
        unnamed = [child for name, child in old.items() if new.get(name) != child]
        for child in unnamed:
            self._unref(child)
        return unnamed

    def drop(self, ino):
        """Forgets a durable inode that nothing live or durable can reach again; returns the
        inodes a dropped directory named."""
        if ino in self.files:
            os.unlink(self.path(ino))
            self.files.discard(ino)
        self.links.pop(ino, None)
        entries = self.dirs.pop(ino, {'entries': {}})['entries']
        for child in entries.values():
            self._unref(child)
        return list(entries.values())


class PowerLossFs(fusepy.Operations):
    use_ns = True
    # Unlinked files stay usable through open handles (hard_remove): libfuse then calls with a
    # NULL path, which it only does when told the file system copes.
    flag_nullpath_ok = True
    # Left out so that libfuse answers ENOSYS and the kernel stops asking: otherwise every write
    # costs a getxattr("security.capability") round trip. No locks: the kernel keeps POSIX and
    # flock locks locally, which is what Java's FileChannel.lock needs.
    getxattr = setxattr = listxattr = removexattr = None
    lock = None
    # Regular files come through create(); device nodes, FIFOs, bmap and ioctl are not modelled.
    mknod = bmap = ioctl = None

    def __init__(self, state_dir, mountpoint):
        self.mountpoint = mountpoint
        self.state_dir = os.path.abspath(state_dir)
        self.live_dir = os.path.join(self.state_dir, 'live')
        self.store = DurableStore(self.state_dir)
        # Live data of an earlier mount was never durable: start over from the durable state.
        os.makedirs(self.live_dir, exist_ok=True)
        for name in os.listdir(self.live_dir):
            os.unlink(os.path.join(self.live_dir, name))
        self.inodes = {}
        self.handles = {}
        self.next_fh = 1
        self.cuts = 0
        self.fsyncs = 0
        self.fault = None  # (errno, path suffix) while writes to those files fail
        self.failed_writes = 0
        self._replace_live_with_durable()

    # ---- helpers -------------------------------------------------------------------------

    def _live_path(self, ino):
        return os.path.join(self.live_dir, str(ino))

    def _new_ino(self):
        ino = self.store.next_ino
        self.store.next_ino += 1
        return ino

    def _resolve(self, path):
        node = self.inodes[ROOT_INO]
        for name in path.split('/'):
            if not name:
                continue
            if node.kind != 'd':
                _fail(errno.ENOTDIR)
            child = node.entries.get(name)
            if child is None:
                _fail(errno.ENOENT)
            node = self.inodes[child]
        return node

    def _parent(self, path):
        """(parent directory inode, last name) for a path to be created, removed or renamed."""
        if path == CONTROL_PATH:
            _fail(errno.EPERM)
        head, name = path.rsplit('/', 1)
        parent = self._resolve(head)
        if parent.kind != 'd':
            _fail(errno.ENOTDIR)
        return parent, name

    def _inode(self, path, fi):
        """The inode behind an operation: its handle when it has one, else its path."""
        if fi:
            handle = self.handles.get(fi.fh)
            if handle is None:
                _fail(errno.EIO)  # opened before a cut
            return handle.inode
        if path is None:
            _fail(errno.ENOENT)
        return self._resolve(path)

    def _file_handle(self, fi):
        handle = self.handles.get(fi.fh)
        if handle is None:
            _fail(errno.EIO)  # opened before a cut
        return handle

    def _new_inode(self, kind, mode):
        uid, gid, _ = fusepy.fuse_get_context()
        inode = Inode(self._new_ino(), kind, mode, uid, gid, time.time_ns())
        self.inodes[inode.ino] = inode
        return inode

    def _link(self, parent, name, inode):
        parent.entries[name] = inode.ino
        inode.nlink += 1
        parent.touch()

    def _unlink(self, parent, name):
        inode = self.inodes[parent.entries.pop(name)]
        inode.nlink -= 1
        inode.ctime_ns = time.time_ns()
        parent.touch()
        self._forget_if_unused(inode)

    def _forget_if_unused(self, inode):
        if inode.nlink > 0 or inode.opens > 0:
            return
        del self.inodes[inode.ino]
        if inode.kind == 'f':
            os.unlink(self._live_path(inode.ino))
        self._collect_durable_garbage([inode.ino])

    def _collect_durable_garbage(self, candidates):
        """Drops the durable copies no cut can bring back: not live, and named by no durable
        directory (a live name may still make them durable, so live ones stay)."""
        work = list(candidates)
        while work:
            ino = work.pop()
            if ino not in self.inodes and self.store.has(ino) and not self.store.referenced(ino):
                work.extend(self.store.drop(ino))

    def _set_size(self, inode, size):
        """Truncate or extend; the bytes between the old and the new end differ from durable."""
        if size == inode.size:
            return
        os.truncate(self._live_path(inode.ino), size)
        inode.dirty.add(min(size, inode.size), max(size, inode.size))
        inode.size = size
        inode.touch()

    def _stats(self):
        pending_bytes = 0
        pending_dir_changes = 0
        for inode in self.inodes.values():
            if inode.kind == 'f':
                pending_bytes += inode.dirty.total()
            elif inode.kind == 'd':
                durable = self.store.dirs.get(inode.ino, {'entries': {}})['entries']
                live = inode.entries
                pending_dir_changes += sum(1 for n in live.keys() | durable.keys()
                                           if live.get(n) != durable.get(n))
        return (json.dumps({'pending_bytes': pending_bytes, 'pending_dir_changes': pending_dir_changes,
                            'cuts': self.cuts, 'fsyncs': self.fsyncs,
                            'failing': None if self.fault is None else '%s %s' % (
                                errno.errorcode[self.fault[0]], self.fault[1]),
                            'failed_writes': self.failed_writes}) + '\n').encode()

    def _replace_live_with_durable(self):
        """The power cut. Every live inode still named durably is rolled back to its durable
        content (only its dirty ranges are copied back); every other live inode is deleted."""
        reachable = self.store.reachable()
        for handle in self.handles.values():
            if handle.content is None and handle.inode.fd >= 0:
                os.close(handle.inode.fd)
                handle.inode.fd = -1
        self.handles = {fh: h for fh, h in self.handles.items() if h.content is not None}
        inodes = {}
        for ino, nlink in reachable.items():
            old = self.inodes.get(ino)
            if ino in self.store.dirs:
                rec = self.store.dirs[ino]
                inode = Inode(ino, 'd', rec['mode'], rec['uid'], rec['gid'], rec['mtime_ns'])
                inode.entries = dict(rec['entries'])
            elif ino in self.store.links:
                rec = self.store.links[ino]
                inode = Inode(ino, 'l', rec['mode'], rec['uid'], rec['gid'], rec['mtime_ns'])
                inode.target = rec['target']
                inode.size = len(os.fsencode(inode.target))
            else:
                st = os.stat(self.store.path(ino))
                inode = Inode(ino, 'f', st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns)
                inode.atime_ns = st.st_atime_ns
                inode.size = st.st_size
                self._roll_back_file(old, ino, st.st_size)
            inode.nlink = nlink
            inodes[ino] = inode
        for ino, old in self.inodes.items():
            if ino not in inodes and old.kind == 'f':
                os.unlink(self._live_path(ino))
        self.inodes = inodes
        for ino in [i for i in self.store.files | self.store.dirs.keys() | self.store.links.keys()
                    if i not in reachable]:
            self.store.drop(ino)
        self.store.count_refs()

    def _roll_back_file(self, old, ino, durable_size):
        live_path = self._live_path(ino)
        src = os.open(self.store.path(ino), os.O_RDONLY)
        try:
            if old is not None:  # live and durable differ only in old.dirty
                dst = os.open(live_path, os.O_RDWR)
                try:
                    for start, end in old.dirty:
                        if start < durable_size:
                            copy_range(src, dst, start, min(end, durable_size) - start)
                    os.ftruncate(dst, durable_size)
                finally:
                    os.close(dst)
            else:
                dst = os.open(live_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    copy_range(src, dst, 0, durable_size)
                finally:
                    os.close(dst)
        finally:
            os.close(src)

    # ---- FUSE operations -----------------------------------------------------------------

    def init(self, path):
        print('powerloss: mounted %s' % self.mountpoint, file=sys.stderr, flush=True)

    def getattr(self, path, fh=None):
        if path == CONTROL_PATH and not fh:
            now = time.time_ns()
            return {'st_mode': stat.S_IFREG | 0o600, 'st_nlink': 1, 'st_size': 0,
                    'st_uid': os.getuid(), 'st_gid': os.getgid(),
                    'st_atime': now, 'st_mtime': now, 'st_ctime': now}
        if fh:
            handle = self._file_handle(fh)
            if handle.content is not None:
                return self.getattr(CONTROL_PATH)
            inode = handle.inode
        else:
            inode = self._inode(path, None)
        if inode.kind == 'd':
            # 1 tells find(1) and fts that the subdirectory count is unknown (as btrfs does).
            nlink, size = 1, DIR_SIZE
        else:
            nlink, size = inode.nlink, inode.size
        return {'st_ino': inode.ino, 'st_mode': inode.mode, 'st_nlink': nlink,
                'st_uid': inode.uid, 'st_gid': inode.gid, 'st_size': size,
                'st_blocks': (size + 511) // 512, 'st_blksize': 4096,
                'st_atime': inode.atime_ns, 'st_mtime': inode.mtime_ns, 'st_ctime': inode.ctime_ns}

    def access(self, path, amode):
        if path != CONTROL_PATH:
            self._resolve(path)
        return 0

    def statfs(self, path):
        sv = os.statvfs(self.state_dir)
        return {key: getattr(sv, key) for key in
                ('f_bsize', 'f_frsize', 'f_blocks', 'f_bfree', 'f_bavail', 'f_files',
                 'f_ffree', 'f_favail', 'f_flag', 'f_namemax')}

    def opendir(self, path):
        if self._resolve(path).kind != 'd':
            _fail(errno.ENOTDIR)
        return 0

    def readdir(self, path, fh):
        if path is None:
            return ['.', '..']  # removed while open
        inode = self._resolve(path)
        if inode.kind != 'd':
            _fail(errno.ENOTDIR)
        return ['.', '..'] + list(inode.entries)

    def releasedir(self, path, fh):
        return 0

    def fsyncdir(self, path, datasync, fh):
        if path is None:
            _fail(errno.ENOENT)
        inode = self._resolve(path)
        for child in inode.entries.values():
            if not self.store.has(child):
                self.store.birth(self.inodes[child])
        self._collect_durable_garbage(self.store.sync_dir(inode))
        self.fsyncs += 1
        return 0

    def mkdir(self, path, mode):
        parent, name = self._parent(path)
        if name in parent.entries:
            _fail(errno.EEXIST)
        self._link(parent, name, self._new_inode('d', stat.S_IFDIR | stat.S_IMODE(mode)))
        return 0

    def rmdir(self, path):
        parent, name = self._parent(path)
        inode = self._resolve(path)
        if inode.kind != 'd':
            _fail(errno.ENOTDIR)
        if inode.ino == ROOT_INO:
            _fail(errno.EBUSY)
        if inode.entries:
            _fail(errno.ENOTEMPTY)
        self._unlink(parent, name)
        return 0

    def unlink(self, path):
        parent, name = self._parent(path)
        if self._resolve(path).kind == 'd':
            _fail(errno.EISDIR)
        self._unlink(parent, name)
        return 0

    def symlink(self, path, target):
        parent, name = self._parent(path)
        if name in parent.entries:
            _fail(errno.EEXIST)
        inode = self._new_inode('l', stat.S_IFLNK | 0o777)
        inode.target = target
        inode.size = len(os.fsencode(target))
        self._link(parent, name, inode)
        return 0

    def readlink(self, path):
        inode = self._resolve(path)
        if inode.kind != 'l':
            _fail(errno.EINVAL)
        return inode.target

    def link(self, path, existing):
        parent, name = self._parent(path)
        inode = self._resolve(existing)
        if inode.kind == 'd':
            _fail(errno.EPERM)
        if name in parent.entries:
            _fail(errno.EEXIST)
        self._link(parent, name, inode)
        inode.ctime_ns = time.time_ns()
        return 0

    def rename(self, old, new):
        src_parent, src_name = self._parent(old)
        dst_parent, dst_name = self._parent(new)
        inode = self._resolve(old)
        if inode.kind == 'd' and new.startswith(old + '/'):
            _fail(errno.EINVAL)  # into its own subtree
        existing = dst_parent.entries.get(dst_name)
        if existing == inode.ino:
            return 0  # both names already refer to the same inode
        if existing is not None:
            target = self.inodes[existing]
            if inode.kind == 'd' and target.kind != 'd':
                _fail(errno.ENOTDIR)
            if inode.kind != 'd' and target.kind == 'd':
                _fail(errno.EISDIR)
            if target.kind == 'd' and target.entries:
                _fail(errno.ENOTEMPTY)
            self._unlink(dst_parent, dst_name)
        del src_parent.entries[src_name]
        dst_parent.entries[dst_name] = inode.ino
        src_parent.touch()
        dst_parent.touch()
        inode.ctime_ns = time.time_ns()
        return 0

    def chmod(self, path, mode):
        if path == CONTROL_PATH:
            _fail(errno.EPERM)
        inode = self._inode(path, None)
        inode.mode = stat.S_IFMT(inode.mode) | stat.S_IMODE(mode)
        inode.ctime_ns = time.time_ns()
        return 0

    def chown(self, path, uid, gid):
        if path == CONTROL_PATH:
            _fail(errno.EPERM)
        inode = self._inode(path, None)
        if uid != -1:
            inode.uid = uid
        if gid != -1:
            inode.gid = gid
        inode.ctime_ns = time.time_ns()
        return 0

    def utimens(self, path, times=None):
        if path == CONTROL_PATH:
            return 0
        inode = self._inode(path, None)
        now = time.time_ns()
        inode.atime_ns, inode.mtime_ns = times if times else (now, now)
        inode.ctime_ns = now
        return 0

    def create(self, path, mode, fi):
        parent, name = self._parent(path)
        if name in parent.entries:
            _fail(errno.EEXIST)
        inode = self._new_inode('f', stat.S_IFREG | stat.S_IMODE(mode))
        inode.fd = os.open(self._live_path(inode.ino), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._link(parent, name, inode)
        inode.opens += 1
        return self._add_handle(Handle(inode), fi)

    def open(self, path, fi):
        if path == CONTROL_PATH:
            fi.direct_io = 1  # the content is generated: no page cache, no size
            return self._add_handle(Handle(None, self._stats()), fi)
        inode = self._resolve(path)
        if inode.kind != 'f':
            _fail(errno.EISDIR if inode.kind == 'd' else errno.ELOOP)
        if inode.fd < 0:
            inode.fd = os.open(self._live_path(inode.ino), os.O_RDWR)
        inode.opens += 1
        self._add_handle(Handle(inode), fi)
        if fi.flags & os.O_TRUNC:
            self._set_size(inode, 0)
        return 0

    def _add_handle(self, handle, fi):
        # Handle numbers are never reused, so a handle dropped at a cut stays unknown (EIO).
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = handle
        fi.fh = fh
        return 0

    def release(self, path, fi):
        handle = self.handles.pop(fi.fh, None)
        if handle is None or handle.content is not None:
            return 0  # a control handle, or opened before a cut
        inode = handle.inode
        inode.opens -= 1
        if inode.opens == 0:
            os.close(inode.fd)
            inode.fd = -1
            self._forget_if_unused(inode)
        return 0

    def flush(self, path, fi):
        return 0

    def read(self, path, size, offset, fi):
        handle = self._file_handle(fi)
        if handle.content is not None:
            return handle.content[offset:offset + size]
        return os.pread(handle.inode.fd, size, offset)

    def write(self, path, data, offset, fi):
        handle = self._file_handle(fi)
        if handle.content is not None:
            return self._control(data)
        self._injected_fault(path)
        inode = handle.inode
        n = os.pwrite(inode.fd, data, offset)
        if n == 0:
            return 0  # an empty write does not extend the file
        # A write past the end also fills the gap from the old end with zeros.
        inode.dirty.add(min(offset, inode.size), offset + n)
        inode.size = max(inode.size, offset + n)
        inode.touch()
        return n

    def _control(self, data):
        words = data.decode('ascii', 'replace').split()
        if words == ['cut']:
            self._replace_live_with_durable()
            self.cuts += 1
        elif len(words) == 3 and words[0] == 'fail' and words[1] in ('EIO', 'ENOSPC'):
            self.fault = (getattr(errno, words[1]), words[2])
        elif words == ['heal']:
            self.fault = None
        else:
            _fail(errno.EINVAL)
        return len(data)

    def _injected_fault(self, path):
        if self.fault is not None and path is not None and path.endswith(self.fault[1]):
            self.failed_writes += 1
            _fail(self.fault[0])

    def truncate(self, path, length, fh=None):
        if path == CONTROL_PATH and not fh:
            return 0  # writers open it with O_TRUNC
        inode = self._inode(path, fh)
        if inode is None:
            return 0  # a control handle
        if inode.kind != 'f':
            _fail(errno.EISDIR if inode.kind == 'd' else errno.EINVAL)
        self._set_size(inode, length)
        return 0

    def fallocate(self, path, mode, offset, length, fi):
        if mode != 0:
            _fail(errno.EOPNOTSUPP)  # KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE: not modelled
        inode = self._file_handle(fi).inode
        if inode is None:
            _fail(errno.EOPNOTSUPP)
        self._injected_fault(path)
        os.posix_fallocate(inode.fd, offset, length)
        end = offset + length
        if end > inode.size:
            inode.dirty.add(inode.size, end)
            inode.size = end
            inode.touch()
        return 0

    def fsync(self, path, datasync, fi):
        handle = self._file_handle(fi)
        if handle.content is not None:
            return 0
        self.store.sync_file(handle.inode, datasync)
        self.fsyncs += 1
        return 0


# fusepy 3.0.1 stops its fuse_operations table at ioctl; libfuse 2.9 continues with poll,
# write_buf, read_buf, flock and fallocate. Extending the table (same layout as
# <fuse/fuse.h>) gives fallocate its own callback instead of ENOSYS.
class _OperationsWithFallocate(ctypes.Structure):
    _fields_ = fusepy.fuse_operations._fields_ + [
        ('poll', ctypes.c_voidp),
        ('write_buf', ctypes.c_voidp),
        ('read_buf', ctypes.c_voidp),
        ('flock', ctypes.c_voidp),
        ('fallocate', ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.c_char_p, ctypes.c_int, fusepy.c_off_t, fusepy.c_off_t,
            ctypes.POINTER(fusepy.fuse_file_info))),
    ]


class _Fuse(fusepy.FUSE):
    def fallocate(self, path, mode, offset, length, fip):
        return self.operations('fallocate', self._decode_optional_path(path), mode, offset,
                               length, fip.contents)


def main(argv):
    if len(argv) != 3:
        print('usage: powerloss_fs.py STATE_DIR MOUNTPOINT', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='powerloss: %(levelname)s %(name)s: %(message)s')
    state_dir, mountpoint = argv[1], os.path.abspath(argv[2])
    os.makedirs(state_dir, exist_ok=True)
    ops = PowerLossFs(state_dir, mountpoint)
    fusepy.fuse_operations = _OperationsWithFallocate
    # No kernel attribute or entry caching: after a cut the kernel must ask again.
    # raw_fi: open() must set direct_io for the control file.
    try:
        _Fuse(ops, mountpoint, raw_fi=True, foreground=True, nothreads=True,
              fsname='powerloss', subtype='powerloss', use_ino=True, hard_remove=True,
              big_writes=True, max_write=MAX_WRITE, attr_timeout=0, entry_timeout=0,
              negative_timeout=0)
    finally:
        # Unmounted (fusermount3 -u, SIGTERM, SIGINT) or failed to mount: either way the durable
        # folders in memory are the state the next mount must start from.
        ops.store.save()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
