/* cli: the ultrasim command line, a client of include/ultrasim.h only. */
#include <stdio.h>
#include <string.h>

#include "ultrasim.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("ultrasim %s\n", US_VERSION);
        return 0;
    }
    fprintf(stderr, "ultrasim: usage: ultrasim COMMAND ... (try --help)\n");
    return 2;
}
