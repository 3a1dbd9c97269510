// The C# peer of taskmem: N tasks (Task.Delay(SLEEP_MS)), awaited with Task.WhenAll, as in the
// published "1 million concurrent tasks" program. At the end it prints `done N spawn_ms=MS`: how
// long creating the N tasks took.
//
// Usage: dotnet BUILD/tasks.dll N SLEEP_MS
using System;
using System.Threading.Tasks;

if (args.Length != 2)
{
    return Fail($"expected 2 arguments, got {args.Length}");
}
if (!int.TryParse(args[0], out int numTasks) || numTasks < 0)
{
    return Fail($"N '{args[0]}' is not a non-negative integer");
}
if (!int.TryParse(args[1], out int ms) || ms < 0)
{
    return Fail($"SLEEP_MS '{args[1]}' is not a non-negative integer");
}

var clock = System.Diagnostics.Stopwatch.StartNew();
Task[] tasks = new Task[numTasks];
for (int i = 0; i < numTasks; i++)
{
    tasks[i] = Task.Delay(TimeSpan.FromMilliseconds(ms));
}
long spawnMs = clock.ElapsedMilliseconds;
await Task.WhenAll(tasks);
Console.WriteLine($"done {numTasks} spawn_ms={spawnMs}");
return 0;

static int Fail(string msg)
{
    Console.Error.WriteLine($"csharp/tasks: {msg} (usage: dotnet tasks.dll N SLEEP_MS)");
    return 2;
}
