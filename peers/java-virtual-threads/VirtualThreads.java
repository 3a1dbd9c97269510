// The Java virtual-threads peer of taskmem: N virtual threads (Thread.startVirtualThread), each
// in Thread.sleep(SLEEP_MS), joined, as in the published "1 million concurrent tasks" program.
// At the end it prints `done N spawn_ms=MS`: how long starting the N virtual threads took.
//
// Virtual threads need a Java 21+ runtime. This file also compiles on javac 17 (Debian 12's
// JDK): Thread.startVirtualThread is called through a method handle looked up once, which the
// JIT turns into a direct call; on a runtime older than 21 the lookup fails with one line.
//
// Usage: java -cp BUILD VirtualThreads N SLEEP_MS
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

public class VirtualThreads {
    public static void main(String[] args) throws Throwable {
        if (args.length != 2) fail("expected 2 arguments, got " + args.length);
        int n = count("N", args[0]);
        long ms = count("SLEEP_MS", args[1]);

        MethodHandle startVirtualThread;
        try {
            startVirtualThread = MethodHandles.publicLookup().findStatic(Thread.class,
                    "startVirtualThread", MethodType.methodType(Thread.class, Runnable.class));
        } catch (NoSuchMethodException e) {
            System.err.println("java/virtual-threads: this Java (" + System.getProperty("java.version")
                    + ") has no virtual threads: run it on Java 21 or newer");
            System.exit(1);
            return;
        }

        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Runnable task = () -> {
                try {
                    Thread.sleep(ms);
                } catch (InterruptedException e) {
                }
            };
            Thread thread = (Thread) startVirtualThread.invokeExact(task);
            threads.add(thread);
        }
        long spawnMs = (System.nanoTime() - start) / 1_000_000;
        for (Thread thread : threads) {
            thread.join();
        }
        System.out.println("done " + n + " spawn_ms=" + spawnMs);
    }

    static int count(String name, String text) {
        try {
            int v = Integer.parseInt(text);
            if (v >= 0) return v;
        } catch (NumberFormatException e) {
        }
        fail(name + " '" + text + "' is not a non-negative integer");
        return 0;
    }

    static void fail(String msg) {
        System.err.println("java/virtual-threads: " + msg + " (usage: java VirtualThreads N SLEEP_MS)");
        System.exit(2);
    }
}
