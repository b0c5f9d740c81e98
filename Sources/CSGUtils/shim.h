#include <stdbool.h>
#include <stdint.h>
#include <scsi/sg_lib.h>
#include <scsi/sg_pt.h>
#include <scsi/sg_cmds_basic.h>
