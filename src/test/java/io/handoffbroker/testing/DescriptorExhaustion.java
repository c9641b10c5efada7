package io.handoffbroker.testing;

import java.io.FileInputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs out of descriptors in this process, on purpose: the soft open-files limit is
 * lowered to a little above what is open (so that running out takes a few hundred
 * files, whatever the machine's limit), every number left is taken, and then
 * {@code spare} of them are given back. {@link #close} frees them all and restores
 * the limit. Linux only.
 */
public final class DescriptorExhaustion implements AutoCloseable {

    private static final int RLIMIT_NOFILE = 7;
    private static final int HEADROOM = 256;

    private final long previousSoftLimit;
    private final List<FileInputStream> taken = new ArrayList<>();

    private DescriptorExhaustion(int spare) throws IOException {
        long[] limits = getLimits();
        previousSoftLimit = limits[0];
        long open;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            open = fds.count();
        }
        setSoftLimit(Math.min(limits[1], open + HEADROOM));
        try {
            while (taken.size() < 100_000) {
                taken.add(new FileInputStream("/dev/null"));
            }
            throw new IllegalStateException("the descriptors did not run out");
        } catch (IOException outOfDescriptors) {
            // Every number below the lowered limit is taken.
        }
        for (int i = 0; i < spare && !taken.isEmpty(); i++) {
            taken.removeLast().close();
        }
    }

    /** Leaves exactly {@code spare} descriptor numbers free. */
    public static DescriptorExhaustion leaving(int spare) throws IOException {
        return new DescriptorExhaustion(spare);
    }

    @Override
    public void close() throws IOException {
        for (FileInputStream file : taken) {
            file.close();
        }
        taken.clear();
        setSoftLimit(previousSoftLimit);
    }

    private static long[] getLimits() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limits = arena.allocate(16, 8);
            call("getrlimit", limits);
            return new long[] {limits.get(ValueLayout.JAVA_LONG, 0), limits.get(ValueLayout.JAVA_LONG, 8)};
        }
    }

    private static void setSoftLimit(long soft) throws IOException {
        long hard = getLimits()[1];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment limits = arena.allocate(16, 8);
            limits.set(ValueLayout.JAVA_LONG, 0, soft);
            limits.set(ValueLayout.JAVA_LONG, 8, hard);
            call("setrlimit", limits);
        }
    }

    @SuppressWarnings("restricted")
    private static void call(String function, MemorySegment limits) throws IOException {
        Linker linker = Linker.nativeLinker();
        MethodHandle handle = linker.downcallHandle(linker.defaultLookup().find(function).orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        int result;
        try {
            result = (int) handle.invokeExact(RLIMIT_NOFILE, limits);
        } catch (Throwable t) {
            throw new IOException(function + " failed", t);
        }
        if (result != 0) {
            throw new IOException(function + " failed");
        }
    }
}
