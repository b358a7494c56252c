/* placeholder */ #include "stress.h"
