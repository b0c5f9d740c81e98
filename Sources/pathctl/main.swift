import PathCtlKit

PathCtl.bootstrapLogging()
PathCtl.main()
