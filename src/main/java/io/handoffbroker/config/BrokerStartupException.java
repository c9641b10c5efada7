package io.handoffbroker.config;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Why the broker will not start, in terms of its configuration: the message names the key
 * (and the path or value) concerned, {@link #action()} says what to do.
 * {@link BrokerFailureAnalyzer} reports it as Spring Boot's "APPLICATION FAILED TO START"
 * block rather than as a stack trace.
 */
public final class BrokerStartupException extends IllegalStateException {

    private static final String CORRECT_THE_SETTING = "Correct the setting named above (docs/configuration.md "
            + "lists every key with its default and bounds) and start the broker again.";

    private final String action;

    private BrokerStartupException(String message, String action, @Nullable Throwable cause) {
        super(message, cause);
        this.action = action;
    }

    /** A configuration the broker refuses: the message names the key. */
    static BrokerStartupException setting(String message) {
        return new BrokerStartupException(message, CORRECT_THE_SETTING, null);
    }

    /** As {@link #setting(String)}, keeping what found the fault. */
    static BrokerStartupException setting(String message, Throwable cause) {
        return new BrokerStartupException(message, CORRECT_THE_SETTING, cause);
    }

    /**
     * What the system refused while the broker prepared {@code what} (a key and its path); the
     * action points to {@code section}, the part of docs/configuration.md that gives the key's rules.
     */
    static BrokerStartupException starting(String what, String section, IOException failure) {
        return new BrokerStartupException("handoff-broker could not start: " + what + ": " + describe(failure),
                "Check the path named above: its directory must exist or be creatable by the broker's user, "
                        + "owned by that user and writable by no one else (docs/configuration.md, "
                        + section + "); or choose another path. A live listener there is another broker "
                        + "or backend: stop it or use another path.",
                failure);
    }

    /** What to do about it. */
    public String action() {
        return action;
    }

    /**
     * The failure with the file it concerns: the JDK's file-system exceptions have the path
     * alone as their message ("/run/x" for a permission denied), which tells nothing.
     */
    static String describe(IOException failure) {
        if (!(failure instanceof FileSystemException fs)) {
            return String.valueOf(failure.getMessage());
        }
        String reason = fs.getReason() != null ? fs.getReason() : switch (fs) {
            case AccessDeniedException denied -> "permission denied";
            case NoSuchFileException missing -> "no such file or directory";
            case FileAlreadyExistsException exists -> Files.isDirectory(Path.of(exists.getFile()))
                    ? "already exists" : "exists and is not a directory";
            case NotDirectoryException notDirectory -> "not a directory";
            default -> fs.getClass().getSimpleName();
        };
        return (fs.getFile() != null ? fs.getFile() + ": " : "")
                + (fs.getOtherFile() != null ? "(with " + fs.getOtherFile() + ") " : "") + reason;
    }
}
