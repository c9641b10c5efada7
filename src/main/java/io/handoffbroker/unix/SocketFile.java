package io.handoffbroker.unix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The socket file a listener binds: its private parent directory and what is
 * already at the path.
 *
 * <p>Failure modes, each a start-up error with the path in the message: the parent
 * directory is owned by another user than this process's or root, or is group- or
 * world-writable; a directory above it is owned by another user, or, for a process running
 * as root, is group- or world-writable without the sticky bit (warned of for another user);
 * a symbolic link on the way, or in a chain of links, is owned by another user (whoever can
 * change any of these can replace our socket with theirs, or swap the directory between the
 * check and the bind); a live
 * listener already answers at the path (two processes must never share one), named
 * by the {@link Party} that binds there; the path is something other than a socket; a socket
 * file this process may not connect to, so that it cannot tell whether a listener answers.
 * A socket file nobody answers on is left over from a dead process and is replaced.
 */
public final class SocketFile {

    private static final Logger log = LoggerFactory.getLogger(SocketFile.class);

    // Directories on the way to a socket already warned of as writable by others, in this process.
    private static final Set<Path> warnedOf = ConcurrentHashMap.newKeySet();



    /**
     * Who binds a socket path and the setting that chooses it, as an error about the path
     * names them: "is another {@code name} running? Stop it or choose another {@code setting}".
     */
    public record Party(String name, String setting) {

        /** The broker's own listener. */
        public static final Party BROKER = new Party("broker", "broker.socket-path");

        public Party {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(setting, "setting");
        }
    }

    private static final Set<PosixFilePermission> PRIVATE_DIRECTORY = PosixFilePermissions.fromString("rwx------");

    /**
     * The longest path, in bytes, a Unix socket address holds (sun_path, 108 bytes on Linux, with
     * its terminating 0). junixsocket cuts a longer one short without a word.
     */
    public static final int MAX_PATH_BYTES = 107;

    private SocketFile() {
    }

    /** What {@code path} takes of a socket address, its UTF-8 bytes: at most {@link #MAX_PATH_BYTES} fit. */
    public static int addressBytes(String path) {
        return path.getBytes(StandardCharsets.UTF_8).length;
    }

    /**
     * Why a socket address cannot hold {@code path}, to follow the path in an error
     * ("is 120 bytes long; a Unix socket address holds at most 107"), or null when it can.
     */
    public static @Nullable String tooLongForAnAddress(String path) {
        int bytes = addressBytes(path);
        return bytes <= MAX_PATH_BYTES ? null
                : "is " + bytes + " bytes long; a Unix socket address holds at most " + MAX_PATH_BYTES;
    }

    /**
     * Creates the parent directory {@code 0700} if missing; refuses one another user could
     * change: owned by another user than this process's (or root), group- or world-writable,
     * reached through a directory or a symbolic link another user could change. Whoever can write the directory can rename
     * the socket file and put their own in its place, and its clients then connect to them.
     *
     * @param party who binds in the directory, whose setting the errors name
     */
    public static void preparePrivateParent(Path socketPath, Party party) throws IOException {
        preparePrivateParent(socketPath, party, ProcessUser.uid());
    }

    /** As {@link #preparePrivateParent(Path, Party)}, for a process running as {@code processUid}. */
    static void preparePrivateParent(Path socketPath, Party party, long processUid) throws IOException {
        Path parent = socketPath.toAbsolutePath().getParent();
        if (parent == null) {
            throw new IOException("socket path " + socketPath + " has no parent directory");
        }
        Resolved real = resolveWhereNoOneElseCanChange(parent, party, processUid);
        String named = real.path().equals(parent) ? parent.toString()
                : parent + " (" + real.path() + " once its links are followed)";
        if (!real.entry().isDirectory()) {
            throw new IOException("socket directory " + named + " is not a directory");
        }
        refuseOwnedByOthers(real.entry(), processUid, "socket directory " + named + " is",
                "can rename or replace the socket in it; choose another " + party.setting() + ", in a directory"
                        + " of this user's (one missing is created 0700), or, if this directory is meant for it"
                        + " alone, make it uid " + processUid + "'s (chown)");
        if (real.entry().writableByOthers() && real.entry().sticky()) {
            // A shared directory such as /tmp: never to be made private, and nobody's to bind in directly.
            throw new IOException("socket directory " + named + " is shared: others may create entries in it ("
                    + real.entry().permissions() + "), so whenever this socket is not there another user can bind"
                    + " one of their own at its path and be connected to in its place; put the socket in a"
                    + " directory of its own below it (" + real.path().resolve("<name>") + "/, created 0700 when"
                    + " missing), or choose another " + party.setting());
        }
        if (real.entry().writableByOthers()) {
            throw new IOException("socket directory " + named + " is group- or world-writable ("
                    + real.entry().permissions() + "); make it 0700 or 0755, owned by this process's uid "
                    + processUid + ", or choose another " + party.setting());
        }
    }

    /** A directory found at the end of a walk, with what one look at it, its links not followed, read. */
    private record Resolved(Path path, Entry entry) {
    }

    /**
     * {@code directory} resolved as the kernel resolves it, one name at a time, refusing
     * anything on the way that another user could change, and so swap the socket's directory
     * for one of theirs: a directory above it owned by another user than this process's (or
     * root); a symbolic link, at any step or in a chain of links, owned by another user (its
     * owner could point it elsewhere). A directory above it writable by its group or others
     * without the sticky bit (in a sticky one such as {@code /tmp} only an entry's owner may
     * rename it) is refused for a process running as root, and warned of otherwise: whoever
     * can write it can swap the checked directory for one of theirs between this check and the
     * bind, and have the socket created, made private ({@code chmod}, junixsocket's and ours,
     * which follow links) and removed wherever they choose; as root, that is a {@code chmod} of
     * any file on the machine.
     */
    private static Resolved resolveWhereNoOneElseCanChange(Path directory, Party party, long processUid)
            throws IOException {
        Deque<String> names = new ArrayDeque<>();
        directory.forEach(name -> names.add(name.toString()));
        Path at = Objects.requireNonNull(directory.getRoot(), "an absolute path");
        // Each entry on the way is looked at once: as the next step, then as the directory it steps from.
        Entry atEntry = Entry.of(at);
        int links = 0;
        while (!names.isEmpty()) {
            String name = names.removeFirst();
            if (name.isEmpty() || name.equals(".")) {
                continue;
            }
            if (name.equals("..")) {
                if (at.getParent() != null) {
                    at = at.getParent();
                    atEntry = Entry.of(at);
                }
                continue;
            }
            refuseChangeableByOthers(at, atEntry, directory, party, processUid);
            Path next = at.resolve(name);
            Entry nextEntry = Entry.ifExists(next);
            if (nextEntry == null) {
                // Created here, in a directory already checked, never before the check: through a link
                // or in a directory another user controls, it would be made wherever they chose.
                createPrivately(next);
                nextEntry = Entry.of(next);
            }
            if (!nextEntry.isSymbolicLink()) {
                at = next;
                atEntry = nextEntry;
                continue;
            }
            if (++links > MAX_LINKS) {
                throw new IOException("socket directory " + directory + ": more than " + MAX_LINKS
                        + " symbolic links on the way");
            }
            refuseOwnedByOthers(nextEntry, processUid, "socket directory " + directory + ": " + next
                    + " on the way is a symbolic link", "can point it at another directory, and the socket's clients"
                    + " with it; remove the link or choose another " + party.setting());
            Path target = Files.readSymbolicLink(next);
            for (int i = target.getNameCount() - 1; i >= 0; i--) {
                names.addFirst(target.getName(i).toString());
            }
            if (target.isAbsolute()) {
                at = Objects.requireNonNull(target.getRoot());
                atEntry = Entry.of(at);
            }
        }
        return new Resolved(at, atEntry);
    }

    // As the kernel's own limit on links followed in one lookup.
    private static final int MAX_LINKS = 40;

    /** Refuses {@code above}, a directory on the way to the socket's, when another user could rename what is in it. */
    private static void refuseChangeableByOthers(Path above, Entry entry, Path directory, Party party,
            long processUid) throws IOException {
        refuseOwnedByOthers(entry, processUid, "socket directory " + directory + ": " + above + " on the way is",
                "can rename what is in it and put a directory of its own in its place; choose another "
                        + party.setting());
        if (!entry.sticky() && entry.writableByOthers()) {
            String risk = above + " on the way is group- or world-writable without the sticky bit ("
                    + entry.permissions() + "): any user who can write it can put a directory of"
                    + " their own in the place of the one checked, before the bind, and have the socket made and its"
                    + " mode set (chmod follows links) wherever they choose";
            if (processUid == ProcessUser.ROOT) {
                // As root that chmod reaches any file on the machine.
                throw new IOException("socket directory " + directory + ": " + risk + ", as root any file; make it"
                        + " 1777 (sticky) or 0755, run as another user, or choose another " + party.setting());
            }
            // Warned of, not refused, for another user: a Kubernetes emptyDir is such a directory
            // (0777), and where every process that can write it runs as this user, as the same-uid
            // peer policy has it, no one else can use it. Where others can, it is theirs to act on.
            if (warnedOf.add(above)) { // said once; the broker prepares its directory twice at start-up
                log.warn("socket directory {}: {}; make it 1777 (sticky) or 0755, or choose another {}", directory,
                        risk, party.setting());
            }
        }
    }

    /**
     * Refuses an entry owned by a user other than this process's or root:
     * "{@code subject} owned by uid N, not by this process's uid P (or root): uid N {@code canDo}".
     */
    private static void refuseOwnedByOthers(Entry entry, long processUid, String subject, String canDo)
            throws IOException {
        if (!mayHold(entry.uid(), processUid)) {
            throw new IOException(subject + " owned by uid " + entry.uid() + ", not by this process's uid "
                    + processUid + " (or root): uid " + entry.uid() + " " + canDo);
        }
    }

    /**
     * A directory's owner whom a socket in it is safe from: this process's user, or root. Root's
     * is accepted for any process: root can replace any file anyway, and in a root-owned directory
     * that is not group- or world-writable (checked as well) nobody else can write. Such a
     * directory is where an administrator prepares a place for a service, and refusing it would
     * protect nothing.
     */
    private static boolean mayHold(long owner, long processUid) {
        return owner == processUid || owner == ProcessUser.ROOT;
    }

    // Every directory this creates is 0700, ancestors included: a tree made for sockets is nobody else's.
    private static void createPrivately(Path directory) throws IOException {
        try {
            Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(PRIVATE_DIRECTORY));
            // The umask may have narrowed the mode further; set it exactly.
            Files.setPosixFilePermissions(directory, PRIVATE_DIRECTORY);
        } catch (FileAlreadyExistsException raced) {
            // Another process created it meanwhile; it is checked like any existing entry.
        }
    }

    /**
     * Makes the path free to bind: nothing there, or a stale socket file that is
     * removed. Throws when a live listener answers there, the path is not a socket, or it is
     * one this process may not connect to.
     *
     * @param party who binds the path, which the error for a live listener names
     */
    public static void claim(Path socketPath, Party party) throws IOException {
        if (checkClaimable(socketPath, party)) {
            Files.deleteIfExists(socketPath);
        }
    }

    /**
     * Throws when {@link #claim} would: a live listener answers at the path, the path is not
     * a socket, or it is one this process may not connect to (another user's, say), which
     * leaves it unable to tell. Changes nothing.
     *
     * @param party who binds the path, which the error for a live listener names
     * @return true when a stale socket file is there, which {@code claim} would remove
     */
    public static boolean checkClaimable(Path socketPath, Party party) throws IOException {
        Entry entry = Entry.ifExists(socketPath);
        if (entry == null) {
            return false;
        }
        if (!entry.isSocket()) {
            throw new IOException(socketPath + " exists and is not a socket; refusing to replace it");
        }
        boolean answering;
        try {
            answering = isAnswering(socketPath);
        } catch (OutOfResourcesException cannotTell) {
            throw new IOException("cannot tell whether a listener answers at " + socketPath + ": "
                    + cannotTell.getMessage(), cannotTell);
        }
        if (answering) {
            throw new IOException("a live listener already answers at " + socketPath
                    + "; is another " + party.name() + " running? Stop it or choose another " + party.setting());
        }
        if (!Files.isWritable(socketPath)) {
            if (Entry.ifExists(socketPath) == null) {
                // Removed since the probe (by its owner, stopping): access(2) failed for want of a
                // file, not of a permission, and nothing is left to claim.
                return false;
            }
            // connect(2) needs write permission on the socket file: refused it, the probe cannot tell a
            // live listener (another user's, mode 0600 under the same-uid policy) from a file left over,
            // and removing a live one would take its path from under it.
            throw new IOException(socketPath + " is a socket file of uid " + entry.uid() + " (" + entry.permissions()
                    + ") that this process's uid " + ProcessUser.uid() + " may not connect to, so it cannot tell"
                    + " whether a listener answers there; if none does, remove the file, else stop that "
                    + party.name() + " or choose another " + party.setting());
        }
        return true;
    }

    /**
     * True when something listens at the path right now: it accepted the probe, or its
     * backlog is full and left the probe pending. Without a listener (a stale file), false.
     *
     * @throws OutOfResourcesException when this process could not create the probe's socket, and
     *     so cannot tell
     */
    public static boolean isAnswering(Path socketPath) throws OutOfResourcesException {
        try {
            // Never a blocking connect: a listener that stopped accepting (frozen, or overwhelmed)
            // with a full backlog would hold it for ever, and start-up with it.
            BoundedConnect.probe(AFUNIXSocketAddress.of(socketPath));
            return true;
        } catch (OutOfResourcesException cannotTell) {
            throw cannotTell; // no answer for want of a socket of ours: the file may well be live
        } catch (IOException refusedOrGone) {
            return false;
        }
    }

    /**
     * What one {@code lstat} of an entry tells: its kind, its permission bits and its owner. One
     * look, where asking for each separately would look again, and could see another entry each time.
     */
    private record Entry(int mode, long uid) {

        private static final int KIND = 0170000;
        private static final int DIRECTORY = 0040000;
        private static final int SYMBOLIC_LINK = 0120000;
        private static final int SOCKET = 0140000;
        private static final int STICKY = 01000;
        private static final int GROUP_OR_OTHERS_WRITE = 0022;

        static Entry of(Path path) throws IOException {
            Map<String, Object> read = Files.readAttributes(path, "unix:mode,uid", LinkOption.NOFOLLOW_LINKS);
            return new Entry((Integer) read.get("mode"), ((Number) read.get("uid")).longValue());
        }

        static @Nullable Entry ifExists(Path path) throws IOException {
            try {
                return of(path);
            } catch (NoSuchFileException absent) {
                return null;
            }
        }

        boolean isDirectory() {
            return (mode & KIND) == DIRECTORY;
        }

        boolean isSymbolicLink() {
            return (mode & KIND) == SYMBOLIC_LINK;
        }

        boolean isSocket() {
            return (mode & KIND) == SOCKET;
        }

        boolean sticky() {
            return (mode & STICKY) != 0;
        }

        boolean writableByOthers() {
            return (mode & GROUP_OR_OTHERS_WRITE) != 0;
        }

        /** The permission bits as {@code ls} shows them, {@code rwxr-xr-x}, or {@code rwxrwxrwt} with the sticky bit. */
        String permissions() {
            StringBuilder shown = new StringBuilder(9);
            for (int bit = 8; bit >= 0; bit--) {
                shown.append((mode & (1 << bit)) != 0 ? "rwx".charAt(2 - bit % 3) : '-');
            }
            if (sticky()) {
                shown.setCharAt(8, shown.charAt(8) == 'x' ? 't' : 'T');
            }
            return shown.toString();
        }
    }
}
