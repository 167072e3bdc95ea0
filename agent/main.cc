#include "agent/cli.h"

int main(int argc, char** argv) { return cachewarden::RunCli(argc, argv); }
