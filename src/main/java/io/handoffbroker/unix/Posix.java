package io.handoffbroker.unix;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The three system calls made outside junixsocket, through the JDK's foreign
 * function API, on a descriptor's number:
 *
 * <ul>
 *   <li>{@code poll(2)} with a zero timeout ({@link #readableNow}): junixsocket's
 *       {@code accept} on a non-blocking listener rebuilds the listener's address before
 *       every call, exception included, so an accept that finds nothing costs about as
 *       much as one that finds a connection; asking first makes the empty accept at the
 *       end of every burst one cheap call.</li>
 *   <li>{@code fcntl(2)} clearing {@code O_NONBLOCK} ({@link #makeBlocking}) and
 *       {@code shutdown(2)} ({@link #shutdown}): a backend can serve a handed-off
 *       connection through plain file streams on its descriptor, without the socket
 *       object junixsocket takes tens of microseconds to build.</li>
 * </ul>
 *
 * <p>When native calls are not available (the JVM was started without native access
 * for this code) {@link #available()} is false, {@link #readableNow} answers true (the
 * caller simply tries, as it would without this class), and the other two fail.
 */
public final class Posix {

    private static final Logger log = LoggerFactory.getLogger(Posix.class);
    private static final short POLLIN = 0x1;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 0x800;
    private static final int SHUT_RDWR = 2;
    private static final @Nullable Calls CALLS = Calls.link();
    // struct pollfd { int fd; short events; short revents; }, one per thread that asks.
    private static final ThreadLocal<MemorySegment> POLL_FD = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate(8, 4));

    private Posix() {
    }

    /** Whether the native calls can be made in this JVM. */
    public static boolean available() {
        return CALLS != null;
    }

    /** The descriptor's number. */
    public static int number(FileDescriptor descriptor) throws IOException {
        return FileDescriptorCast.using(descriptor).as(Integer.class);
    }

    /**
     * True when a read (or an accept, for a listener) would not block right now, when the
     * peer hung up or the descriptor is in error, and whenever the kernel cannot be asked.
     */
    public static boolean readableNow(int descriptor) {
        Calls calls = CALLS;
        if (calls == null) {
            return true;
        }
        MemorySegment pollFd = POLL_FD.get();
        pollFd.set(ValueLayout.JAVA_INT, 0, descriptor);
        pollFd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
        pollFd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        try {
            int ready = (int) calls.poll().invokeExact(pollFd, 1L, 0);
            // -1 (a signal, a bad descriptor): let the caller's own call find out.
            return ready != 0;
        } catch (Throwable unexpected) {
            return true;
        }
    }

    /**
     * Clears {@code O_NONBLOCK} on the descriptor's open file description, which every
     * copy of the descriptor shares, in this process and any other.
     */
    public static void makeBlocking(int descriptor) throws IOException {
        Calls calls = required();
        int flags = call(calls.fcntl(), descriptor, F_GETFL, 0, "fcntl(F_GETFL)");
        if ((flags & O_NONBLOCK) != 0) {
            call(calls.fcntl(), descriptor, F_SETFL, flags & ~O_NONBLOCK, "fcntl(F_SETFL)");
        }
    }

    /** Shuts the socket down both ways: a thread blocked reading it sees end of stream. */
    public static void shutdown(int descriptor) throws IOException {
        Calls calls = required();
        try {
            if ((int) calls.shutdown().invokeExact(descriptor, SHUT_RDWR) < 0) {
                throw new IOException("shutdown(" + descriptor + ") failed");
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable unexpected) {
            throw new IOException("shutdown(" + descriptor + ") failed", unexpected);
        }
    }

    private static Calls required() throws IOException {
        Calls calls = CALLS;
        if (calls == null) {
            throw new IOException("native calls are not available in this JVM");
        }
        return calls;
    }

    private static int call(MethodHandle fcntl, int descriptor, int command, int argument, String what)
            throws IOException {
        int result;
        try {
            result = (int) fcntl.invokeExact(descriptor, command, argument);
        } catch (Throwable unexpected) {
            throw new IOException(what + " failed on descriptor " + descriptor, unexpected);
        }
        if (result < 0) {
            throw new IOException(what + " failed on descriptor " + descriptor);
        }
        return result;
    }

    private record Calls(MethodHandle poll, MethodHandle fcntl, MethodHandle shutdown) {

        static @Nullable Calls link() {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                return new Calls(
                        linker.downcallHandle(libc.find("poll").orElseThrow(), FunctionDescriptor.of(
                                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)),
                        // fcntl is variadic; its third argument is passed as a variadic int.
                        linker.downcallHandle(libc.find("fcntl").orElseThrow(), FunctionDescriptor.of(
                                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                                Linker.Option.firstVariadicArg(2)),
                        linker.downcallHandle(libc.find("shutdown").orElseThrow(), FunctionDescriptor.of(
                                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)));
            } catch (RuntimeException | LinkageError unavailable) {
                log.info("native calls are not available ({}): accepts are tried without asking first, and "
                        + "handed-off connections are served through socket objects", unavailable.toString());
                return null;
            }
        }
    }
}
