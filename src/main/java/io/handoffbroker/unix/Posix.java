package io.handoffbroker.unix;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The system calls made outside junixsocket, through the JDK's foreign function
 * API, on a descriptor's number:
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
 *   <li>{@code recvmsg(2)} with {@code SCM_RIGHTS} ({@link #receive}), {@code close(2)}
 *       ({@link #close}) and {@code fcntl(F_DUPFD_CLOEXEC)} ({@link #duplicate}): a backend
 *       receives a handed-off descriptor as a number of its own, close-on-exec from the
 *       start. junixsocket hands it out as a descriptor it closes together with the control
 *       connection, so keeping it took a {@code dup}, an {@code fcntl}, a {@code close} and
 *       a check of the copy, between the offer and the ACK.</li>
 *   <li>{@code getsockopt(2)} and {@code getpeername(2)} ({@link #whyNotAConnectedUnixStream}):
 *       what a backend was handed must be a client's connection before it answers that it took
 *       it; a file, a pipe, a datagram or a listening socket passed by some other process would
 *       otherwise be served.</li>
 * </ul>
 *
 * <p>The constants are Linux's, so the calls are linked on Linux only. Elsewhere, or
 * when native calls are not allowed in this JVM, {@link #available()} is false,
 * {@link #readableNow} answers true (the caller simply tries, as it would without this
 * class), and the others fail; callers fall back to junixsocket.
 */
public final class Posix {

    private static final Logger log = LoggerFactory.getLogger(Posix.class);
    private static final short POLLIN = 0x1;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int O_NONBLOCK = 0x800;
    /** {@code how} for {@link #shutdown(int, int)}: no more reads; no more writes; neither. */
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int SOL_SOCKET = 1;
    private static final int SO_TYPE = 3;
    private static final int SOCK_STREAM = 1;
    private static final int AF_UNIX = 1;
    private static final int ENOTSOCK = 88;
    private static final int ENOTCONN = 107;
    private static final int EPIPE = 32;
    private static final int ECONNRESET = 104;
    // struct sockaddr_un (110 bytes, the family first) with room to spare, then a socklen_t.
    private static final int ADDRESS_BYTES = 112;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    /** The most bytes one {@link #receive} takes: a handoff token is 16. */
    private static final int MAX_RECEIVE = 256;
    // Room for 16 descriptors in one control message; more are discarded by the kernel (MSG_CTRUNC).
    private static final int CONTROL_BYTES = 16 + 16 * 4;
    private static final StructLayout IOVEC = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("iov_base"), ValueLayout.JAVA_LONG.withName("iov_len"));
    private static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("msg_name"), ValueLayout.JAVA_INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4),
            ValueLayout.ADDRESS.withName("msg_iov"), ValueLayout.JAVA_LONG.withName("msg_iovlen"),
            ValueLayout.ADDRESS.withName("msg_control"), ValueLayout.JAVA_LONG.withName("msg_controllen"),
            ValueLayout.JAVA_INT.withName("msg_flags"), MemoryLayout.paddingLayout(4));
    private static final long IOV_LEN = offset(IOVEC, "iov_len");
    private static final long CONTROL_LENGTH = offset(MSGHDR, "msg_controllen");
    private static final long FLAGS = offset(MSGHDR, "msg_flags");
    // struct cmsghdr: size_t cmsg_len, int cmsg_level, int cmsg_type, then the data.
    private static final long CMSG_HEADER = 16;
    private static final @Nullable Calls CALLS = Calls.link();

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
     * A signal during the call is retried, so it never passes for readiness.
     */
    public static boolean readableNow(int descriptor) {
        return readableWithin(descriptor, 0);
    }

    /**
     * As {@link #readableNow}, waiting up to {@code timeoutMillis} for it: false only when that
     * wait ended with nothing to read. A signal during the wait resumes it for the time left.
     */
    public static boolean readableWithin(int descriptor, int timeoutMillis) {
        Calls calls = CALLS;
        if (calls == null) {
            return true;
        }
        Scratch scratch = calls.scratch();
        scratch.pollFd().set(ValueLayout.JAVA_INT, 0, descriptor);
        scratch.pollFd().set(ValueLayout.JAVA_SHORT, 4, POLLIN);
        // No clock read for a look that does not wait: the event loop makes one per accept round.
        long deadline = timeoutMillis == 0 ? 0 : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        int wait = timeoutMillis;
        try {
            while (true) {
                scratch.pollFd().set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                int ready = (int) calls.poll().invokeExact(scratch.callState(), scratch.pollFd(), 1L, wait);
                if (ready >= 0) {
                    return ready != 0;
                }
                if (scratch.errno() != EINTR) {
                    return true; // a bad descriptor: the caller's own call reports it
                }
                if (wait > 0) {
                    wait = (int) Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime() + 999_999));
                }
            }
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
        int flags = fcntl(calls, descriptor, F_GETFL, 0);
        if ((flags & O_NONBLOCK) != 0) {
            fcntl(calls, descriptor, F_SETFL, flags & ~O_NONBLOCK);
        }
    }

    /**
     * Shuts the socket down: {@link #SHUT_RD}, {@link #SHUT_WR} or both ways ({@link #SHUT_RDWR},
     * after which a thread blocked reading it sees end of stream).
     */
    public static void shutdown(int descriptor, int how) throws IOException {
        Calls calls = required();
        Scratch scratch = calls.scratch();
        int result;
        try {
            result = (int) calls.shutdown().invokeExact(scratch.callState(), descriptor, how);
        } catch (Throwable unexpected) {
            throw new IOException("shutdown(" + descriptor + ") failed", unexpected);
        }
        if (result < 0) {
            throw new IOException("shutdown(" + descriptor + ") failed: errno " + scratch.errno());
        }
    }

    /**
     * One {@code send(2)} of {@code bytes} that never waits, whatever the socket's mode
     * ({@code MSG_DONTWAIT}, and {@code MSG_NOSIGNAL}: a peer gone is an error, not a signal).
     * A descriptor passed to another process shares its file status flags with it, and that
     * process may have made the socket blocking since; a plain write would then wait for
     * room for as long as the peer does not read. A signal during the call is retried.
     *
     * @return the bytes the socket took: all of them, fewer, or 0 when it had no room
     */
    public static int sendWithoutWaiting(int socket, byte[] bytes) throws IOException {
        Calls calls = required();
        Scratch scratch = calls.scratch();
        // A relay fits the thread's scratch memory; only a long refusal detail needs more.
        try (Arena arena = bytes.length <= MAX_RECEIVE ? null : Arena.ofConfined()) {
            MemorySegment buffer = arena == null ? scratch.data() : arena.allocate(bytes.length);
            MemorySegment.copy(bytes, 0, buffer, ValueLayout.JAVA_BYTE, 0, bytes.length);
            while (true) {
                long sent;
                try {
                    sent = (long) calls.send().invokeExact(scratch.callState(), socket, buffer, (long) bytes.length,
                            MSG_DONTWAIT | MSG_NOSIGNAL);
                } catch (Throwable unexpected) {
                    throw new IOException("send(" + socket + ") failed", unexpected);
                }
                if (sent >= 0) {
                    return (int) sent;
                }
                int errno = scratch.errno();
                if (errno == EAGAIN) {
                    return 0;
                }
                if (errno != EINTR) {
                    throw new IOException("send(" + socket + ") failed: " + describe(errno));
                }
            }
        }
    }

    /**
     * True when the peer has closed the connection and nothing is left to read before its end,
     * or it reset the connection; false while bytes wait or nothing does. Reads nothing off the
     * stream ({@code MSG_PEEK}), never waits, and takes in no descriptor that came with bytes.
     */
    public static boolean atEndOfStream(int socket) {
        Calls calls = CALLS;
        if (calls == null) {
            return false;
        }
        Scratch scratch = calls.scratch();
        try {
            while (true) {
                long read = (long) calls.recv().invokeExact(scratch.callState(), socket, scratch.data(), 1L,
                        MSG_PEEK | MSG_DONTWAIT);
                if (read >= 0) {
                    return read == 0;
                }
                int errno = scratch.errno();
                if (errno != EINTR) {
                    return errno == ECONNRESET;
                }
            }
        } catch (Throwable unexpected) {
            return false;
        }
    }

    private static String describe(int errno) {
        return switch (errno) {
            case EPIPE -> "the peer closed its end (EPIPE)";
            case ECONNRESET -> "the peer reset the connection (ECONNRESET)";
            default -> "errno " + errno;
        };
    }

    /**
     * What one {@code recvmsg(2)} brought: {@code bytes} (0 at end of stream) and the
     * descriptors that came with them, each a number this process owns and must close.
     * {@code truncated}: some descriptors that came could not be received, and the kernel
     * closed them: more came than there was room for, or this process had no free number.
     */
    public record Received(int bytes, int[] descriptors, boolean truncated) {
    }

    /**
     * One {@code recvmsg(2)} of at most {@code length} bytes (and at most 256)
     * into {@code into}, with any descriptors that come along, received close-on-exec. Blocks
     * as the socket does; a signal during the call is retried.
     *
     * @throws SocketTimeoutException when the socket's receive timeout passed first
     */
    public static Received receive(int socket, byte[] into, int offset, int length) throws IOException {
        Calls calls = required();
        Scratch scratch = calls.scratch();
        int wanted = Math.min(length, MAX_RECEIVE);
        MemorySegment message = scratch.message();
        scratch.iovec().set(ValueLayout.JAVA_LONG, IOV_LEN, wanted);
        long result;
        while (true) {
            message.set(ValueLayout.JAVA_LONG, CONTROL_LENGTH, CONTROL_BYTES);
            message.set(ValueLayout.JAVA_INT, FLAGS, 0);
            try {
                result = (long) calls.recvmsg().invokeExact(scratch.callState(), socket, message, MSG_CMSG_CLOEXEC);
            } catch (Throwable unexpected) {
                throw new IOException("recvmsg(" + socket + ") failed", unexpected);
            }
            if (result >= 0) {
                break;
            }
            int errno = scratch.errno();
            if (errno == EAGAIN) {
                throw new SocketTimeoutException("no bytes on descriptor " + socket + " within its receive timeout");
            }
            if (errno != EINTR) {
                throw new IOException("recvmsg(" + socket + ") failed: errno " + errno);
            }
        }
        MemorySegment.copy(scratch.data(), ValueLayout.JAVA_BYTE, 0, into, offset, (int) result);
        int[] descriptors = descriptors(scratch.control(), message.get(ValueLayout.JAVA_LONG, CONTROL_LENGTH));
        boolean truncated = (message.get(ValueLayout.JAVA_INT, FLAGS) & MSG_CTRUNC) != 0;
        return new Received((int) result, descriptors, truncated);
    }

    // The SCM_RIGHTS payloads of the control messages (struct cmsghdr: length, level, type, data).
    private static int[] descriptors(MemorySegment control, long controlLength) {
        int[] found = new int[0];
        long at = 0;
        while (at + CMSG_HEADER <= controlLength) {
            long length = control.get(ValueLayout.JAVA_LONG, at);
            if (length < CMSG_HEADER || at + length > controlLength) {
                break;
            }
            int level = control.get(ValueLayout.JAVA_INT, at + 8);
            int type = control.get(ValueLayout.JAVA_INT, at + 12);
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                int count = (int) ((length - CMSG_HEADER) / 4);
                int[] more = Arrays.copyOf(found, found.length + count);
                for (int i = 0; i < count; i++) {
                    more[found.length + i] = control.get(ValueLayout.JAVA_INT, at + CMSG_HEADER + 4L * i);
                }
                found = more;
            }
            at += (length + 7) & ~7L;
        }
        return found;
    }

    /**
     * Null when the descriptor is a connected Unix domain stream socket (what a broker hands
     * over: a client's connection); otherwise what it is instead. Two system calls: the
     * socket's type, and its peer's address, which a listening or unconnected socket lacks and
     * whose family says the domain.
     */
    public static @Nullable String whyNotAConnectedUnixStream(int descriptor) throws IOException {
        Calls calls = required();
        Scratch scratch = calls.scratch();
        Integer type = socketType(calls, scratch, descriptor);
        if (type == null) {
            return "not a socket";
        }
        if (type != SOCK_STREAM) {
            return "not a stream socket (type " + type + ")";
        }
        MemorySegment address = scratch.address();
        address.set(ValueLayout.JAVA_INT, ADDRESS_BYTES, ADDRESS_BYTES);
        int result;
        try {
            result = (int) calls.getpeername().invokeExact(scratch.callState(), descriptor, address,
                    address.asSlice(ADDRESS_BYTES));
        } catch (Throwable unexpected) {
            throw new IOException("getpeername(" + descriptor + ") failed", unexpected);
        }
        if (result < 0) {
            if (scratch.errno() == ENOTCONN) {
                return "not connected (a listening socket, or one never connected)";
            }
            throw new IOException("getpeername(" + descriptor + ") failed: errno " + scratch.errno());
        }
        int family = Short.toUnsignedInt(address.get(ValueLayout.JAVA_SHORT, 0));
        if (family != AF_UNIX) {
            return "not a Unix domain socket (address family " + family + ")";
        }
        return null;
    }

    // SO_TYPE; null when the descriptor is not a socket.
    private static @Nullable Integer socketType(Calls calls, Scratch scratch, int descriptor) throws IOException {
        MemorySegment value = scratch.option();
        value.set(ValueLayout.JAVA_INT, 4, 4); // socklen_t: the room for the value
        int result;
        try {
            result = (int) calls.getsockopt().invokeExact(scratch.callState(), descriptor, SOL_SOCKET, SO_TYPE,
                    value, value.asSlice(4));
        } catch (Throwable unexpected) {
            throw new IOException("getsockopt(" + descriptor + ", SO_TYPE) failed", unexpected);
        }
        if (result == 0) {
            return value.get(ValueLayout.JAVA_INT, 0);
        }
        if (scratch.errno() == ENOTSOCK) {
            return null;
        }
        throw new IOException("getsockopt(" + descriptor + ", SO_TYPE) failed: errno " + scratch.errno());
    }

    /** A second number for the same open file: the lowest free one at or above {@code lowest}, close-on-exec. */
    public static int duplicate(int descriptor, int lowest) throws IOException {
        return fcntl(required(), descriptor, F_DUPFD_CLOEXEC, lowest);
    }

    /** Closes a descriptor number this process owns, where a failure leaves nothing to do. */
    public static void closeQuietly(int descriptor) {
        try {
            close(descriptor);
        } catch (IOException alreadyClosed) {
            // Never valid, or closed already: nothing is held.
        }
    }

    /** Closes a descriptor number this process owns. Not retried after a signal: Linux has closed it. */
    public static void close(int descriptor) throws IOException {
        Calls calls = required();
        Scratch scratch = calls.scratch();
        int result;
        try {
            result = (int) calls.close().invokeExact(scratch.callState(), descriptor);
        } catch (Throwable unexpected) {
            throw new IOException("close(" + descriptor + ") failed", unexpected);
        }
        if (result < 0 && scratch.errno() != EINTR) {
            throw new IOException("close(" + descriptor + ") failed: errno " + scratch.errno());
        }
    }

    private static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    private static Calls required() throws IOException {
        Calls calls = CALLS;
        if (calls == null) {
            throw new IOException("native calls are not available in this JVM");
        }
        return calls;
    }

    private static int fcntl(Calls calls, int descriptor, int command, int argument) throws IOException {
        Scratch scratch = calls.scratch();
        while (true) {
            int result;
            try {
                result = (int) calls.fcntl().invokeExact(scratch.callState(), descriptor, command, argument);
            } catch (Throwable unexpected) {
                throw new IOException("fcntl(" + descriptor + ", " + command + ") failed", unexpected);
            }
            if (result >= 0) {
                return result;
            }
            if (scratch.errno() != EINTR) {
                throw new IOException("fcntl(" + descriptor + ", " + command + ") failed: errno " + scratch.errno());
            }
        }
    }

    /**
     * Per-thread memory for the calls: a {@code struct pollfd}, the captured {@code errno}, and
     * a {@code struct msghdr} pointing at one {@code iovec} over {@code data} and at {@code control},
     * an int socket option followed by its {@code socklen_t}, and a socket address followed by its length.
     */
    private record Scratch(MemorySegment pollFd, MemorySegment callState, Libc libc,
            MemorySegment message, MemorySegment iovec, MemorySegment data, MemorySegment control,
            MemorySegment option, MemorySegment address) {

        static Scratch allocate(StructLayout callStateLayout, Libc libc) {
            Arena arena = Arena.ofAuto();
            MemorySegment data = arena.allocate(MAX_RECEIVE);
            MemorySegment control = arena.allocate(CONTROL_BYTES, 8);
            MemorySegment iovec = arena.allocate(IOVEC);
            iovec.set(ValueLayout.ADDRESS, 0, data);
            MemorySegment message = arena.allocate(MSGHDR);
            message.set(ValueLayout.ADDRESS, offset(MSGHDR, "msg_iov"), iovec);
            message.set(ValueLayout.JAVA_LONG, offset(MSGHDR, "msg_iovlen"), 1L);
            message.set(ValueLayout.ADDRESS, offset(MSGHDR, "msg_control"), control);
            return new Scratch(arena.allocate(8, 4), arena.allocate(callStateLayout), libc, message, iovec,
                    data, control, arena.allocate(8, 4), arena.allocate(ADDRESS_BYTES + 4, 4));
        }

        int errno() {
            return libc.errno(callState);
        }
    }

    private record Calls(MethodHandle poll, MethodHandle fcntl, MethodHandle shutdown, MethodHandle recvmsg,
            MethodHandle send, MethodHandle recv, MethodHandle close, MethodHandle getsockopt, MethodHandle getpeername,
            ThreadLocal<Scratch> scratches) {

        Scratch scratch() {
            return scratches.get();
        }

        static @Nullable Calls link() {
            try {
                Libc libc = Libc.linux();
                StructLayout callStateLayout = libc.stateLayout();
                MethodHandle poll = libc.function("poll", FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                // fcntl is variadic; its third argument is passed as a variadic int.
                MethodHandle fcntl = libc.function("fcntl", FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                        Linker.Option.firstVariadicArg(2));
                MethodHandle shutdown = libc.function("shutdown",
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                MethodHandle recvmsg = libc.function("recvmsg", FunctionDescriptor.of(
                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
                MethodHandle send = libc.function("send", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                MethodHandle recv = libc.function("recv", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                MethodHandle close = libc.function("close",
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                MethodHandle getsockopt = libc.function("getsockopt", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS));
                MethodHandle getpeername = libc.function("getpeername", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
                ThreadLocal<Scratch> scratches = ThreadLocal.withInitial(() -> Scratch.allocate(callStateLayout, libc));
                return new Calls(poll, fcntl, shutdown, recvmsg, send, recv, close, getsockopt, getpeername, scratches);
            } catch (RuntimeException | LinkageError unavailable) {
                log.info("native calls are not available ({}): accepts are tried without asking first, and "
                        + "handed-off connections are served through socket objects", unavailable.toString());
                return null;
            }
        }
    }
}
