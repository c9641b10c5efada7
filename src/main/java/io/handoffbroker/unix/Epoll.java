package io.handoffbroker.unix;

import java.io.Closeable;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.jspecify.annotations.Nullable;

/**
 * An {@code epoll(7)} instance, through the JDK's foreign function API: readiness of
 * many descriptors at a cost that grows with the number that are ready, not with the
 * number registered. junixsocket's selector is built on {@code poll(2)} and rebuilds its
 * array from every registered key on every wait, which made each wait of a broker holding
 * 10,000 idle connections cost milliseconds.
 *
 * <p>Level-triggered. Every descriptor is registered with a caller's {@code long} id,
 * which {@link #await} reports back. A wake-up ({@link #wakeup}) ends a wait from any
 * thread; it is an {@code eventfd} registered under id {@link #WAKE_UP_ID}, drained and
 * not reported.
 *
 * <p>Ownership: the instance owns its epoll and eventfd descriptors; the registered
 * descriptors stay their owners'. A registration belongs to the open file, not to the
 * number: a descriptor passed to another process, or duplicated, stays registered after
 * this process closes its number, and its events would come back under a number that may
 * by then be another file's. Remove a descriptor before closing it.
 */
public final class Epoll implements Closeable {

    public static final int IN = 0x001;
    public static final int OUT = 0x004;
    public static final int ERR = 0x008;
    public static final int HUP = 0x010;
    /** The id of the wake-up descriptor; never given to a registration. */
    public static final long WAKE_UP_ID = 0;

    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLL_CTL_MOD = 3;
    private static final int CLOEXEC = 0x80000; // EPOLL_CLOEXEC and EFD_CLOEXEC
    private static final int EFD_NONBLOCK = 0x800;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int MAX_EVENTS = 256;
    // struct epoll_event is packed on x86-64 (12 bytes, data at 4), naturally aligned elsewhere (16, data at 8).
    private static final boolean PACKED = System.getProperty("os.arch", "").matches("amd64|x86_64");
    private static final long EVENT_SIZE = PACKED ? 12 : 16;
    private static final long DATA_OFFSET = PACKED ? 4 : 8;
    private static final @Nullable Calls CALLS = Calls.link();
    private static final MemorySegment ONE = Arena.global().allocateFrom(ValueLayout.JAVA_LONG, 1L);
    private static final ThreadLocal<MemorySegment[]> SCRATCH = ThreadLocal.withInitial(() -> {
        Arena arena = Arena.ofAuto();
        return new MemorySegment[] {arena.allocate(EVENT_SIZE, 8), arena.allocate(Linker.Option.captureStateLayout())};
    });

    private final Calls calls;
    private final int epoll;
    private final int wakeUp;
    private final MemorySegment events;
    private final MemorySegment counter;
    private final MemorySegment callState;
    // Held by whatever uses the epoll or eventfd number from any thread, and by close(): once
    // closed, those numbers may be another file's, and nothing may reach them.
    private final Object numbers = new Object();
    private boolean closed;

    private Epoll(Calls calls, int epoll, int wakeUp) {
        this.calls = calls;
        this.epoll = epoll;
        this.wakeUp = wakeUp;
        Arena arena = Arena.ofAuto();
        this.events = arena.allocate(EVENT_SIZE * MAX_EVENTS, 8);
        this.counter = arena.allocate(8, 8);
        this.callState = arena.allocate(Linker.Option.captureStateLayout());
    }

    /** Whether epoll can be used in this JVM: Linux, with native access allowed. */
    public static boolean available() {
        // Its descriptors are closed through Posix: without it they could not be closed at all.
        return CALLS != null && Posix.available();
    }

    public static Epoll open() throws IOException {
        Calls calls = CALLS;
        if (calls == null) {
            throw new IOException("epoll is not available in this JVM");
        }
        MemorySegment state = Arena.ofAuto().allocate(Linker.Option.captureStateLayout());
        int epoll = calls.check(state, "epoll_create1",
                (int) invoke(() -> (int) calls.epollCreate().invokeExact(state, CLOEXEC)));
        int wakeUp;
        try {
            wakeUp = calls.check(state, "eventfd",
                    (int) invoke(() -> (int) calls.eventfd().invokeExact(state, 0, CLOEXEC | EFD_NONBLOCK)));
        } catch (IOException e) {
            Posix.closeQuietly(epoll);
            throw e;
        }
        Epoll instance = new Epoll(calls, epoll, wakeUp);
        try {
            instance.control(EPOLL_CTL_ADD, wakeUp, IN, WAKE_UP_ID);
        } catch (IOException e) {
            instance.close();
            throw e;
        }
        return instance;
    }

    /** Registers {@code descriptor} for {@code interest} ({@link #IN}, {@link #OUT}, or 0 for hang-ups only). */
    public void add(int descriptor, int interest, long id) throws IOException {
        control(EPOLL_CTL_ADD, descriptor, interest, id);
    }

    public void modify(int descriptor, int interest, long id) throws IOException {
        control(EPOLL_CTL_MOD, descriptor, interest, id);
    }

    /** Removes a registration; one already gone (closed, or never added) is not an error. */
    public void remove(int descriptor) {
        try {
            control(EPOLL_CTL_DEL, descriptor, 0, 0);
        } catch (IOException alreadyGone) {
            // ENOENT or EBADF: nothing is registered under it any more.
        }
    }

    /**
     * Waits until something is ready, a wake-up, a signal, or {@code timeoutMillis} (-1: no
     * limit; 0: no wait), and reports what is ready: the id and the events of each, in
     * {@code ids} and {@code readyEvents} (at most their length, and at most 256).
     *
     * @return how many were reported; 0 after a wake-up, a signal or the timeout
     */
    public int await(int timeoutMillis, long[] ids, int[] readyEvents) throws IOException {
        synchronized (numbers) {
            if (closed) {
                throw new IOException("epoll instance closed");
            }
        }
        // Not under the lock: a wake-up must get through while this waits. Only the instance's
        // owner waits, and only the owner closes it.
        int max = Math.min(MAX_EVENTS, Math.min(ids.length, readyEvents.length));
        int ready = (int) invoke(
                () -> (int) calls.epollWait().invokeExact(callState, epoll, events, max, timeoutMillis));
        if (ready < 0) {
            int errno = calls.errno(callState);
            if (errno == EINTR) {
                return 0;
            }
            throw new IOException("epoll_wait failed: errno " + errno);
        }
        int reported = 0;
        for (int i = 0; i < ready; i++) {
            long id = events.get(ValueLayout.JAVA_LONG_UNALIGNED, i * EVENT_SIZE + DATA_OFFSET);
            int what = events.get(ValueLayout.JAVA_INT_UNALIGNED, i * EVENT_SIZE);
            if (id == WAKE_UP_ID) {
                drainWakeUps();
            } else {
                ids[reported] = id;
                readyEvents[reported] = what;
                reported++;
            }
        }
        return reported;
    }

    /** Ends the current or the next {@link #await}, from any thread. */
    public void wakeup() {
        synchronized (numbers) {
            if (!closed) {
                // Any result will do: EAGAIN means the counter is full, so a wake-up is pending anyway.
                MemorySegment state = SCRATCH.get()[1];
                invoke(() -> (long) calls.write().invokeExact(state, wakeUp, ONE, 8L));
            }
        }
    }

    /** Closes the instance; registrations, waits and wake-ups after it do nothing, or fail. */
    @Override
    public void close() {
        synchronized (numbers) {
            if (closed) {
                return;
            }
            closed = true;
            Posix.closeQuietly(wakeUp);
            Posix.closeQuietly(epoll);
        }
    }

    private void drainWakeUps() throws IOException {
        long read = (long) invoke(() -> (long) calls.read().invokeExact(callState, wakeUp, counter, 8L));
        if (read < 0 && calls.errno(callState) != EAGAIN && calls.errno(callState) != EINTR) {
            throw new IOException("reading the wake-up eventfd failed: errno " + calls.errno(callState));
        }
    }

    private void control(int operation, int descriptor, int interest, long id) throws IOException {
        synchronized (numbers) {
            if (closed) {
                throw new IOException("epoll instance closed");
            }
            controlOpen(operation, descriptor, interest, id);
        }
    }

    private void controlOpen(int operation, int descriptor, int interest, long id) throws IOException {
        // Registrations come from the loop thread, removals from any thread: memory per thread.
        MemorySegment[] scratch = SCRATCH.get();
        MemorySegment event = scratch[0];
        MemorySegment state = scratch[1];
        event.set(ValueLayout.JAVA_INT_UNALIGNED, 0, interest);
        event.set(ValueLayout.JAVA_LONG_UNALIGNED, DATA_OFFSET, id);
        int result = (int) invoke(() -> (int) calls.epollCtl().invokeExact(state, epoll, operation, descriptor, event));
        if (result < 0) {
            throw new IOException("epoll_ctl(" + operation + ", " + descriptor + ") failed: errno " + calls.errno(state));
        }
    }

    private interface NativeCall {
        Object call() throws Throwable;
    }

    private static Object invoke(NativeCall call) {
        try {
            return call.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private record Calls(MethodHandle epollCreate, MethodHandle epollCtl, MethodHandle epollWait,
            MethodHandle eventfd, MethodHandle read, MethodHandle write, Libc libc) {

        int errno(MemorySegment state) {
            return libc.errno(state);
        }

        int check(MemorySegment state, String what, int result) throws IOException {
            if (result < 0) {
                throw new IOException(what + " failed: errno " + errno(state));
            }
            return result;
        }

        static @Nullable Calls link() {
            try {
                Libc libc = Libc.linux();
                ValueLayout i = ValueLayout.JAVA_INT;
                ValueLayout l = ValueLayout.JAVA_LONG;
                ValueLayout a = ValueLayout.ADDRESS;
                return new Calls(
                        libc.function("epoll_create1", FunctionDescriptor.of(i, i)),
                        libc.function("epoll_ctl", FunctionDescriptor.of(i, i, i, i, a)),
                        libc.function("epoll_wait", FunctionDescriptor.of(i, i, a, i, i)),
                        libc.function("eventfd", FunctionDescriptor.of(i, i, i)),
                        libc.function("read", FunctionDescriptor.of(l, i, a, l)),
                        libc.function("write", FunctionDescriptor.of(l, i, a, l)),
                        libc);
            } catch (RuntimeException | LinkageError unavailable) {
                return null;
            }
        }
    }
}
