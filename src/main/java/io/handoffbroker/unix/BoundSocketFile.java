package io.handoffbroker.unix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;

/**
 * The socket file a listener created, remembered so that the listener removes it
 * on close only while it is still the same file. A successor may have unlinked it
 * and bound a new one at the same path; that file is not ours to delete.
 *
 * <p>Why the creation time as well as the file key: ext4 hands a freed inode
 * number straight to the next file created, so a successor's socket file usually
 * has the very inode number of the one it replaced. The creation time (or, where
 * the file system has none, the modification time, both with nanoseconds) tells
 * them apart.
 */
public final class BoundSocketFile {

    private final Path path;
    private final Object fileKey;
    private final FileTime created;

    private BoundSocketFile(Path path, Object fileKey, FileTime created) {
        this.path = path;
        this.fileKey = fileKey;
        this.created = created;
    }

    /** Identifies the file a listener has just bound at {@code path}. */
    public static BoundSocketFile identify(Path path) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS);
        Object key = attributes.fileKey();
        if (key == null) {
            throw new IOException("cannot identify socket file " + path + ": the file system reports no file key");
        }
        return new BoundSocketFile(path, key, attributes.creationTime());
    }

    public Path path() {
        return path;
    }

    /** True while the file at the path is the one this listener bound. */
    public boolean isStillOurs() throws IOException {
        try {
            BasicFileAttributes now = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return Objects.equals(now.fileKey(), fileKey) && now.creationTime().equals(created);
        } catch (NoSuchFileException gone) {
            return false;
        }
    }

    /**
     * Unlinks the file if it is still ours.
     *
     * @return true if it was removed
     */
    public boolean removeIfStillOurs() throws IOException {
        // A successor could bind between the check and the delete; the window is a few
        // microseconds during a shutdown, and a successor that loses its file there fails
        // its own liveness probe rather than serving silently on a dead path.
        return isStillOurs() && Files.deleteIfExists(path);
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
