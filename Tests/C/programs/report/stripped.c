/*
 * stripped.c - three functions with some body, for the report's grouping
 * of a stripped object's addresses by FDE range (StrippedSymbolTests):
 * the test compiles it, reads the functions' addresses with nm, strips a
 * copy and symbolises addresses of that copy.  Never run.
 */
#include <stdio.h>

__attribute__((noinline)) static int alpha(int x)
{
    int s = 0;
    for (int i = 0; i < x; i++)
        s += i * i ^ x;
    return s;
}

__attribute__((noinline)) static int beta(int x)
{
    int s = 1;
    for (int i = 0; i < x; i++)
        s = s * 31 + alpha(i);
    return s;
}

int main(int argc, char **argv)
{
    (void)argv;
    printf("%d\n", beta(argc * 1000));
    return 0;
}
