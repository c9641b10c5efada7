package io.handoffbroker.unix;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the kernel, without waiting, whether a descriptor has something to read: one
 * {@code poll(2)} with a zero timeout, called through the JDK's foreign function API.
 *
 * <p>Why: junixsocket's {@code accept} on a non-blocking listener rebuilds the
 * listener's address before every call, exception included, so an accept that finds
 * nothing costs about as much as one that finds a connection. Asking first makes the
 * empty accept at the end of every burst a single cheap system call.
 *
 * <p>When native calls are not available (the JVM was started without native access
 * for this code), every descriptor is reported readable: the caller then simply tries,
 * as it would without this class.
 */
public final class Readiness {

    private static final Logger log = LoggerFactory.getLogger(Readiness.class);
    private static final short POLLIN = 0x1;
    private static final @Nullable MethodHandle POLL = lookupPoll();
    // struct pollfd { int fd; short events; short revents; }, one per thread that asks.
    private static final ThreadLocal<MemorySegment> POLL_FD = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate(8, 4));

    private Readiness() {
    }

    /** The descriptor's number, for {@link #readableNow(int)}. */
    public static int number(FileDescriptor descriptor) throws IOException {
        return FileDescriptorCast.using(descriptor).as(Integer.class);
    }

    /**
     * True when a read (or an accept, for a listener) would not block right now, when the
     * peer hung up or the descriptor is in error, and whenever the kernel cannot be asked.
     */
    public static boolean readableNow(int descriptor) {
        MethodHandle poll = POLL;
        if (poll == null) {
            return true;
        }
        MemorySegment pollFd = POLL_FD.get();
        pollFd.set(ValueLayout.JAVA_INT, 0, descriptor);
        pollFd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
        pollFd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        try {
            int ready = (int) poll.invokeExact(pollFd, 1L, 0);
            // -1 (a signal, a bad descriptor): let the caller's own call find out.
            return ready != 0;
        } catch (Throwable unexpected) {
            return true;
        }
    }

    private static @Nullable MethodHandle lookupPoll() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("poll")
                    .map(poll -> linker.downcallHandle(poll, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError unavailable) {
            log.info("poll(2) is not callable ({}); accepts are tried without asking first", unavailable.toString());
            return null;
        }
    }
}
