# Seed tutorial 003, "os.fork()".  Unchanged (it uses no multiprocessing).
#!/user/bin/python

#encoding=utf-8

import os

print (os.getpid())      #主进程的id
pid = os.fork()          #创建一个子进程,只能在linux下运行
print (pid)              #子进程id和0
if pid == 0:
  print ('I am child process (%s) and my parent is %s.' % (os.getpid(), os.getppid()))
else:
  print ('I (%s) just created a child process (%s).' % (os.getpid(), pid))

#运行后可见效果,更容易理解
