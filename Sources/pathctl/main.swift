import PathCtlKit

PathCtl.main()
