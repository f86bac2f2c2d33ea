# Seed tutorial 003, "代码实例二:将获取的信息写入文件".  Unchanged (appends to
# a.txt in the current directory: the test runs it in a temporary one).
#encoding=utf-8

import multiprocessing as mp
from multiprocessing import Process, Lock

def write_file(content,lock,file_path="a.txt"):
    lock.acquire()
    with open(file_path,"a") as fp:
        fp.write(content+"\n")
    lock.release()

def proc_1(pipe,lock):
    pipe.send('hello')
    info = pipe.recv()
    print('proc_1 received: %s' %info)
    write_file(info,lock)
    pipe.send("what is your name?")
    info = pipe.recv()
    print('proc_1 received: %s' %info)
    write_file(info,lock)

def proc_2(pipe,lock):
    info = pipe.recv()
    print('proc_2 received: %s' %info)
    write_file(info,lock)
    pipe.send('hello, too')
    info = pipe.recv()
    write_file(info,lock)
    print('proc_2 received: %s' %info)
    pipe.send("I don't tell you!")

if __name__ == '__main__':
  pipe = mp.Pipe()
  lock=Lock()
  # 将第一个pipe对象传给进程1
  p1 = mp.Process(target = proc_1, args = (pipe[0],lock ))
  # 将第二个pipe对象传给进程2
  p2 = mp.Process(target = proc_2, args = (pipe[1],lock ))
  p1.start()
  p2.start()
  p1.join()
  p2.join()
